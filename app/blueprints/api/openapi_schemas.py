"""The schemas of the OpenAPI document, written as data with a few small builders."""

from __future__ import annotations

from typing import Any

from app.models import OrgKind, Role
from app.services.applications import ENTRY_SORTS

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def string(description: str = "", **extra: Any) -> Schema:
    """A string, optionally with a description, format or enum."""
    return {"type": "string", **({"description": description} if description else {}), **extra}


def integer(description: str = "", **extra: Any) -> Schema:
    """An integer."""
    return {"type": "integer", **({"description": description} if description else {}), **extra}


def number(description: str = "") -> Schema:
    """A number (decimals are sent as JSON numbers)."""
    return {"type": "number", **({"description": description} if description else {})}


def boolean(description: str = "") -> Schema:
    """A boolean."""
    return {"type": "boolean", **({"description": description} if description else {})}


def array(items: Schema, description: str = "", **extra: Any) -> Schema:
    """An array of `items`."""
    return {"type": "array", "items": items,
            **({"description": description} if description else {}), **extra}


def nullable(schema: Schema) -> Schema:
    """The schema, or null."""
    if "type" in schema:
        extra = {"enum": [*schema["enum"], None]} if "enum" in schema else {}
        return {**schema, "type": [schema["type"], "null"], **extra}
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = (),
        description: str = "") -> Schema:
    """An object whose properties are all required except those named `optional`."""
    return {"type": "object", **({"description": description} if description else {}),
            "properties": properties,
            "required": [key for key in properties if key not in optional]}


def map_of(values: Schema, description: str = "") -> Schema:
    """An object with free keys and values of one kind."""
    return {"type": "object", "additionalProperties": values,
            **({"description": description} if description else {})}


FREE = {"type": "object", "description": "Free-form object."}
DATETIME = string("ISO 8601 time in UTC with its offset, e.g. 2026-03-01T01:00:00+00:00.",
                  format="date-time")
DATE = string("Calendar date YYYY-MM-DD.", format="date")
ROLE = string("The user's role.", enum=[r.value for r in Role])
FORM_DATA = {"type": "object", "description": "Values keyed by the field keys of the "
             "programme's application form (see GET /api/v1/programmes/{key}). File fields are "
             "not part of it: upload them with POST .../attachments."}

# --- programmes -----------------------------------------------------------------------------
PROGRAMME_SUMMARY = {
    "key": string("Programme key."), "title": string("Chinese title."),
    "title_en": string("English title (may be empty)."), "version": integer("Definition version."),
    "code": string("Short code used in certificate serials."), "description": string(),
}
RULE_REF = obj({"name": string("Name of a registered guard or action."),
                "params": {**FREE, "description": "Its parameters, defaults filled in."}})
STATE = obj({
    "name": string(), "label": string("Chinese label."), "label_en": string(),
    "description": string(), "final": boolean("Nothing leaves a final state."),
    "outcome": nullable(string("Outcome of a final state.",
                               enum=["awarded", "passed", "rejected", "withdrawn", "closed"])),
    "editable": boolean("The applicant may change the form in this state."),
    "review": nullable(ref("ReviewRound")),
    "fill": array(string(), "Keys of the application form's sections the applicant fills in "
                            "while the entry is in this state (a stage report)."),
})
REVIEW_ROUND = obj({
    "rubric": string("Key of the rubric experts score with in this round."),
    "label": string("The round's own label (empty: the state's label)."),
    "label_en": string("The round's own English label (empty: the state's label_en)."),
    "weight": string("Weight of the round in the final score, as an exact decimal (e.g. \"0.3\"); "
                     "the weights of all rounds sum to 1."),
    "aggregation": nullable(FREE | {"description": "The round's own aggregation settings; null: "
                                    "the workflow's reviews.aggregation."}),
    "blind": boolean("Identifying fields, file names and the applicant's unit are hidden from "
                     "experts in this round."),
    "quorum": nullable(integer("Submitted sheets per entry that let the round close; null: every "
                               "active sheet.")),
    "live": boolean("Scored on site: a panel's chair opens one entry at a time."),
}, description="A review state seen as a round (see docs/definitions.md).")
TRANSITION = obj({
    "trigger": string(), "label": string("Chinese label."), "label_en": string(),
    "description": string(), "source": array(string(), "States it may be fired from."),
    "dest": string("State it leads to."), "roles": array(ROLE, "Roles that may fire it."),
    "form": nullable(string("Key of the form filled in with this step (send its values as "
                            "`data`).")),
    "guards": array(ref("RuleRef"), "Named checks; each refusal gives a reason."),
    "actions": array(ref("RuleRef"), "Named actions run after the move."),
    "comment": string("Whether a comment is required.", enum=["required", "optional", "none"]),
    "style": string("Button style hint.", enum=["primary", "secondary", "danger"]),
})
CHOICE = obj({"value": string(), "label": string(), "label_en": string()})
FIELD_TYPES = ["text", "textarea", "integer", "decimal", "date", "choice", "multi_choice",
               "boolean", "phone", "email", "id_number", "file", "table"]
FIELD_EXTRA = {
    "max_length": integer(), "min_length": integer(), "min": nullable(number()),
    "max": nullable(number()), "unit": string(), "places": integer("Decimal places."),
    "choices": array(ref("Choice")), "widget": string(enum=["select", "radio"]),
    "max_selected": integer("0 means no limit."),
    "accept": array(string(), "Accepted file extensions."), "max_size_mb": integer(),
    "multiple": boolean(), "max_files": integer(), "columns": array(ref("Field")),
    "min_rows": integer(), "max_rows": integer(),
}
FIELD = obj({
    "key": string(), "label": string(), "label_en": string(),
    "type": string(enum=FIELD_TYPES), "required": boolean("Required at submission."),
    "identifying": boolean("Identifies the applicant (hidden in blind review)."),
    "help": string(), "placeholder": string(), **FIELD_EXTRA,
}, optional=tuple(FIELD_EXTRA), description="A form field; the keys after `placeholder` "
   "depend on `type`. Table columns are fields too.")
SECTION = obj({"key": nullable(string("The section's key, when a state fills it in as a stage "
                                      "report (`fill`).")),
               "title": string(), "title_en": string(), "description": string(),
               "fields": array(ref("Field"))})
FORM = obj({"key": string(), "title": string(), "title_en": string(), "description": string(),
            "sections": array(ref("FormSection"))})
BAND = obj({"label": string("e.g. 优, 良"), "label_en": string(), "min": number(),
            "max": number()}, description="A band of points shown to the expert.")
VETO = obj({"key": string(), "label": string(), "label_en": string(), "description": string()},
           description="A veto item (一票否决): checked by any expert, it fails the entry.")
CRITERION_PROPS = {"key": string(), "label": string(), "label_en": string(),
                   "description": string(), "max": number("Highest points."),
                   "bands": array(BAND, "Point ranges shown to the expert (leaves only)."),
                   "comment_below": nullable(number("Under this many points the comment "
                                                    "must explain the score."))}
CRITERION = obj({**CRITERION_PROPS, "criteria": array(ref("Criterion"), "Sub-criteria; "
                 "experts score the leaves.")})
RUBRIC = obj({"key": string(), "title": string(), "title_en": string(), "description": string(),
              "max": number("Highest total."), "criteria": array(ref("Criterion")),
              "vetoes": array(VETO)})
PROGRAMME = obj({
    **PROGRAMME_SUMMARY, "initial": string("State a new application starts in."),
    "form": string("Key of the application form."),
    "title_field": nullable(string("Field whose value is an application's title.")),
    "states": array(ref("State")), "transitions": array(ref("Transition")),
    "forms": map_of(ref("Form"), "Every form of the programme by key."),
    "rubrics": map_of(ref("Rubric"), "Every rubric of the programme by key."),
})

# --- accounts and calls ---------------------------------------------------------------------
ORGANISATION = obj({"code": string(), "name": string(),
                    "kind": string(enum=[k.value for k in OrgKind]),
                    "district": nullable(string("Code of its district (null for the city)."))})
USER = obj({"username": string(), "name": string(), "role": ROLE, "org": ref("Organisation")})
TOKEN_REQUEST = obj({"username": string(), "password": string(),
                     "otp": string("The six-digit code of the account's authenticator app, or "
                                   "one of its recovery codes: required when the account has "
                                   "two-step verification on.")},
                    optional=("otp",))
TOKEN = obj({"token": string("Send as `Authorization: Bearer <token>`."),
             "token_type": string(enum=["Bearer"]), "expires_at": DATETIME,
             "user": ref("User")})
QUOTAS = map_of(integer(minimum=0), "Entries each district may recommend, by district code.")
MINIMUMS = map_of(integer(minimum=1), "Entries each district must recommend at least, by "
                                      "district code (the guard district_minimum).")
CALL_TIME = string("ISO 8601 time; without an offset it is read as Beijing time (+08:00).",
                   examples=["2026-03-01T09:00:00+08:00"])
CALL_REQUEST = obj({"programme": string("Programme key."), "title": string(),
                    "year": integer(minimum=2000, maximum=2100), "opens_at": CALL_TIME,
                    "closes_at": CALL_TIME, "quotas": QUOTAS, "description": string(),
                    "minimums": MINIMUMS},
                   optional=("description", "minimums"))
CALL = obj({"id": integer(), "programme": string("Programme key."), "title": string(),
            "year": integer(), "description": string(), "opens_at": DATETIME,
            "closes_at": DATETIME, "open": boolean("Accepting applications now."),
            "quotas": QUOTAS, "minimums": MINIMUMS})
ROUND_SCORE = obj({
    "score": number("The entry's score in the round (what the final score weighs)."),
    "raw_score": number("The score before per-expert normalisation (equal without it)."),
    "sheets": integer("Submitted sheets."),
    "method": string("Aggregation used: mean, trimmed_mean or median."),
    "fallback_used": boolean("Too few sheets for the trimmed mean: the fallback was used."),
    "normalised": boolean("Per-expert normalisation was applied."),
    "spread": number("Highest minus lowest sheet total."),
    "dispersion_flagged": boolean("The spread exceeds the round's threshold."),
    "vetoed": boolean("A sheet checked a veto item (一票否决)."),
    "dropped": array(string(), "Experts (usernames) whose sheets the trimmed mean dropped."),
})
RANKING_ENTRY = obj({
    "rank": nullable(integer("Place; tied entries share it; null when vetoed (一票否决) or "
                             "incomplete.")),
    "score": nullable(number("Final score: Σ weight × round score, two decimals; null when the "
                             "entry misses a weighted round.")),
    "tied_with": array(integer(), "Application ids sharing this place."),
    "vetoed": boolean("A sheet checked a veto item: the entry fails whatever its score."),
    "decided_by": nullable(string("The deepest tie-break key needed to separate the entry from "
                                  "others with its score.")),
    "dispersion_flagged": boolean("In some round, the spread exceeds the threshold."),
    "missing_rounds": array(string(), "Weighted rounds the entry has no score in."),
    "rounds": map_of(ref("RoundScore"), "The entry's result in each round, by round name."),
    "application": obj({"id": integer(), "title": string(), "state": string(),
                        "state_label": string(), "district": nullable(string())}),
})
ROUND = obj({
    "name": string("The round's state name."), "label": string(),
    "rubric": string("Rubric key."), "weight": string("Exact decimal weight, e.g. \"0.3\"."),
    "blind": boolean(), "quorum": nullable(integer()),
    "live": boolean("Scored on site by panels (drawn order, the chair opens entries)."),
    "aggregation": FREE | {"description": "The aggregation settings in force (scale_max is the "
                                          "rubric's maximum)."},
    "deadline": nullable(DATETIME), "overdue": boolean("Deadline passed with sheets missing."),
    "closed": boolean("Closed: the result is frozen and released."),
    "closed_at": nullable(DATETIME), "result_id": nullable(integer("The stored result.")),
    "entries_in_round": integer("Entries now in the round's state."),
    "entries_complete": integer("Of those, entries with enough sheets."),
    "blockers": array(string(), "Why the round cannot close now."),
    "entries": array(obj({
        "application_id": integer(), "title": string(), "state": string(),
        "in_round": boolean(), "submitted": integer(), "pending": integer(),
        "needed": integer(), "complete": boolean(), "score": nullable(number()),
        "spread": nullable(number()), "dispersion_flagged": boolean(),
        "dispersion_open": boolean("Flagged with neither an extra expert's sheet nor a waiver."),
        "extra_submitted": boolean(), "waiver": nullable(string("The recorded reason."))}),
        "Only in GET /calls/{call_id}/rounds/{name}."),
}, optional=("entries",))
ROUND_REQUEST = obj({"deadline": nullable(string(
    "ISO 8601 time, e.g. 2026-05-20T17:00:00+08:00 (without an offset: Beijing time); "
    "null clears it."))})
REVIEW_RESULT = obj({
    "id": integer(), "call_id": integer(), "round": nullable(string()),
    "programme": string(), "version": integer(), "checksum": string("Definition checksum."),
    "settings": FREE | {"description": "Aggregation settings used."},
    "fingerprint": string("SHA-256 over the sheets, settings, algorithm version and context."),
    "computed_at": DATETIME, "computed_by": nullable(string()),
    "results": array(FREE, "Entry results as computed (decimals as exact strings)."),
    "inputs": FREE | {"description": "The sheets and context used (GET /results/{id} only)."},
}, optional=("inputs",))
VERIFICATION = obj({
    "result_id": integer(), "same": boolean("Same inputs and the same answer."),
    "fingerprint_matches": boolean(), "results_match": boolean(),
    "differences": array(FREE, "Entries whose recomputed result differs."),
})
AWARD_ROW = obj({
    "entry": integer("Application id."), "title": string(), "position": nullable(integer()),
    "score": nullable(string("Final score as an exact decimal.")),
    "group": nullable(string("District code or the grouping field's value.")),
    "level": nullable(string("The proposed (after confirmation: the confirmed) level.")),
    "reason": string("Why: proportion, threshold, proportion_and_threshold, boundary_tie, "
                     "below_threshold, outside_proportion, vetoed, cap_reached, tied_at_cap, "
                     "incomplete, changed."),
    "held_back": nullable(string("The level a cap withheld.")),
    "proposed": nullable(string("Only on changed rows: the level proposed before the change.")),
    "applied": boolean("Only once confirmed: whether the level was written to the entry. "
                       "Finished entries, and entries that moved past the decision (their "
                       "state has no step guarded by award_confirmed, in a programme that has "
                       "such steps), keep the award they have."),
}, optional=("proposed", "applied"))
AWARD_PROPOSAL = obj({
    "id": integer(), "call_id": integer(),
    "status": string("proposed, confirmed or superseded.",
                     enum=["proposed", "confirmed", "superseded"]),
    "settings": FREE | {"description": "Award rules, round weights and results, tie-breaks."},
    "rows": array(ref("AwardRow"), "Every entry, in ranking order."),
    "counts": map_of(integer(), "Entries per level."),
    "fingerprint": string("SHA-256 of the rows and settings; confirming refuses when the "
                          "ranking has changed since."),
    "created_at": DATETIME, "created_by": string(), "confirmed_at": nullable(DATETIME),
    "confirmed_by": nullable(string()), "note": string("Reason given for changed levels."),
})
CONFIRM_REQUEST = obj({
    "changes": map_of(nullable(string()), "Levels to change, by application id (null: none)."),
    "note": string("Why (required with changes)."),
}, optional=("changes", "note"))
INVITATION = obj({
    "id": integer(), "call_id": integer(), "call_title": string(), "expert": string("Username."),
    "expert_name": string(),
    "status": string("invited, accepted or declined.", enum=["invited", "accepted", "declined"]),
    "reason": string("Why the expert declined."), "invited_at": DATETIME,
    "answered_at": nullable(DATETIME),
})
INVITE_REQUEST = obj({"experts": array(string(), "Usernames of experts to invite.")})
ANSWER_REQUEST = obj({"accept": boolean(), "reason": string("Required when declining.")},
                     optional=("reason",))
PANEL = obj({
    "id": integer(), "call_id": integer(), "round": string("The round (review state)."),
    "name": string(), "chair": nullable(string("Username of the chair.")),
    "members": array(string(), "Usernames."),
    "draw_order": array(integer(), "Application ids in the order drawn by lot (live rounds)."),
    "drawn_at": nullable(DATETIME), "drawn_by": nullable(string()),
    "current_application_id": nullable(integer("The entry open for scoring.")),
})
PANEL_REQUEST = obj({"round": string(), "name": string("At most 60 characters."),
                     "members": array(string(), "Usernames of experts."),
                     "chair": string("Username of a member.")}, optional=("chair",))
PANEL_ASSIGN_REQUEST = obj({"application_ids": array(integer(), "Default: every entry now in "
                                                                "the panel's round.",
                                                     minItems=1, maxItems=500)},
                           optional=("application_ids",))
PANEL_ASSIGNMENT = obj({
    "made": array(obj({"review_id": integer(), "application_id": integer(),
                       "expert": string()})),
    "skipped": array(obj({"application_id": integer(), "expert": string(),
                          "reason": string("Why not (conflict of interest, declined…).")})),
    "already": integer("Pairs that were assigned before (left as they are)."),
})
OPEN_REQUEST = obj({"application_id": integer()})
LIVE_BOARD = obj({
    **PANEL["properties"],
    "version": string("Changes whenever the board does: poll it to refresh a screen."),
    "entries": array(obj({"position": integer(), "application_id": integer(), "title": string(),
                          "submitted": integer(), "active": integer(), "complete": boolean(),
                          "score": nullable(number("Shown once every active judge has "
                                                   "submitted."))})),
    "submitted_by": map_of(boolean(), "For the open entry: username → submitted."),
})
REVOKE_REQUEST = obj({"reason": string("Why (required).")})
REISSUE_REQUEST = obj({"reason": string("Why (required)."),
                       "holder": string("The corrected holder (default: unchanged).")},
                      optional=("holder",))
WAIVER_REQUEST = obj({"round": string("The round (review state)."),
                      "reason": string("Why no extra expert is added.")})
WAIVER = obj({"id": integer(), "application_id": integer(), "round": string(),
              "reason": string(), "created_by": string(), "created_at": DATETIME})

# --- applications ---------------------------------------------------------------------------
APPLICATION_SUMMARY = {
    "id": integer(), "call_id": integer(), "title": string("Value of the title field."),
    "state": string("State name."), "state_label": string("Chinese label of the state."),
    "version": integer("Row version; send it back to detect concurrent changes (409)."),
    "applicant": nullable(string("Username of the applicant (null for a blind reviewer).")),
    "organisation": nullable(ref("Organisation")) | {
        "description": "The applicant's unit (null for a blind reviewer)."},
    "district": nullable(string("District code (null for a blind reviewer).")),
    "submitted_at": nullable(DATETIME),
    "created_at": DATETIME, "updated_at": DATETIME,
}
HISTORY_ENTRY = obj({
    "trigger": string("Trigger fired (`create` for the creation)."),
    "from": nullable(string()), "to": string(), "actor": nullable(string("Username.")),
    "actor_name": nullable(string()), "at": DATETIME, "comment": string(),
    "data": {**FREE, "description": "Values of the step's form, if any (empty for applicants)."},
    "bulk_id": nullable(string("Ties the moves of one bulk operation together.")),
    "definition_version": integer(),
})
AVAILABLE_TRANSITION = obj({
    "trigger": string(), "label": string(), "label_en": string(), "dest": string(),
    "allowed": boolean("Whether the guards let the caller fire it now."),
    "reasons": array(string(), "Why not, when not allowed."),
    "form": nullable(string("Form to send as `data`.")),
    "comment": string(enum=["required", "optional", "none"]),
    "style": string(enum=["primary", "secondary", "danger"]),
})
ATTACHMENT = obj({"id": integer(), "field": string("File field key."),
                  "name": string("Original file name."), "size": integer("Bytes."),
                  "content_type": string(), "uploaded_at": DATETIME,
                  "url": string("Download path (bearer token needed).")})
CERTIFICATE = obj({"id": integer(), "serial": string(), "code": string("Verification code."),
                   "holder": string(), "issued_on": DATE,
                   "status": string(enum=["valid", "revoked", "replaced"]),
                   "reason": string("Why it was revoked or replaced (empty while valid)."),
                   "pdf_url": string("Path of the PDF (bearer token needed)."),
                   "verify_url": string("Public verification page (printed as a QR code).",
                                        format="uri")})
ENTRY_FILTER = {  # a call's entries as the call page narrows them (exports)
    "state": string("Only entries in this state (name)."),
    "district": string("Only this district (code)."),
    "q": string("Title or unit name contains this text."),
    "sort": string("Order (default district, then submission).", enum=list(ENTRY_SORTS)),
}
JOB = obj({
    "id": integer(), "kind": string("issue_certificates (a call's certificates in bulk), "
                                    "print_run (one print-ready PDF of a call), "
                                    "call_dossiers (a call's ZIP of dossiers) or "
                                    "applications_export (a big call's applications workbook).",
                                    enum=["issue_certificates", "print_run", "call_dossiers",
                                          "applications_export"]),
    "call_id": nullable(integer()),
    "status": string("queued → running → done, or failed (see error).",
                     enum=["queued", "running", "done", "failed"]),
    "total": integer("Certificates (pages) or entries to be done, known once running."),
    "done": integer("Of these, done so far."),
    "failed": integer("Could not be drawn (certificates, or 申报书 of a ZIP of dossiers)."),
    "percent": integer("0–100, for a progress bar."), "error": nullable(string()),
    "resumed": integer("Times the job was picked up again after a worker stopped."),
    "options": map_of({"type": ["string", "integer", "object", "null"]},
                      "What was asked, e.g. {\"order\": \"district\"}; an export job's "
                      "district_id (null: the whole call) and filter."),
    "created_at": DATETIME, "started_at": nullable(DATETIME),
    "finished_at": nullable(DATETIME)})
_OBJECTION_PUBLIC = {
    "receipt": string("The objector's receipt code."), "entry": string("The entry's title."),
    "call": string(), "status": string(enum=["open", "sustained", "dismissed"]),
    "outcome": nullable(string("The city's written outcome.")),
    "received_at": DATETIME, "decided_at": nullable(DATETIME)}
OBJECTION = obj(_OBJECTION_PUBLIC)
OBJECTION_FULL = obj({
    **_OBJECTION_PUBLIC, "id": integer(), "application_id": integer(), "name": string(),
    "contact": string(), "reason": string(),
    "evidence": nullable(string("The evidence file's name."))})
NOTICE = obj({
    "call_id": integer(), "call_title": string(), "state_label": string(),
    "starts": nullable(DATETIME), "ends": nullable(DATETIME | {"description": "The state's "
                                                              "deadline, if it has one."}),
    "columns": array(obj({"key": string(), "label": string()})),
    "entries": array(obj({"id": integer(), "unit": string(),
                          "values": map_of({}, "Field key → value, for the columns (key "
                                               "`award_level`: the confirmed award level, "
                                               "with the notice's `show_award`).")}))})
CERTIFICATE_FACTS = obj({
    "serial": string(), "title": string(), "holder": string("Awardee."),
    "organisation": string(), "programme_title": string(), "call_title": string(),
    "award": string(), "issuer": string(), "issued_on": DATE,
    "status": string(enum=["valid", "revoked", "replaced"]), "valid": boolean(),
    "revoked_on": nullable(DATE | {"description": "When it was revoked or replaced."}),
    "replaced_by": nullable(string("Serial number of the certificate that replaces it.")),
})
APPLICATION = obj({
    **APPLICATION_SUMMARY,
    "call": obj({"id": integer(), "title": string()}),
    "programme": obj({"key": string(), "version": integer("Pinned definition version.")}),
    "state_label_en": string(), "final": boolean(),
    "outcome": nullable(string("Outcome of a final state.")),
    "editable": boolean("The applicant may change the form (or its stage sections) now."),
    "editable_fields": array(string(), "Keys of the fields the applicant may change now: the "
                                       "stage's sections in a state with `fill`, else the "
                                       "application itself; empty when not editable."),
    "blind": boolean("The caller reviews this entry blind: its identity is withheld."),
    "hidden_fields": array(string(), "Keys of the identifying fields left out of `data`."),
    "data": FORM_DATA,
    "step_data": map_of(FREE, "Latest values of each step form, by form key (empty when blind "
                         "and for applicants: ranks and opinions are kept from them)."),
    "history": array(ref("HistoryEntry"), "Oldest first (empty when blind)."),
    "available_transitions": array(ref("AvailableTransition"),
                                   "Moves the caller's role could make from the current state."),
    "award": nullable(string("The award level the city confirmed (一等奖, 优秀); shown to "
                             "administrators, to others once the application is final.")),
    "score": nullable(number("Final score (each round aggregated as the programme says, weighted; "
                             "null until every weighted round has scored the entry); shown to "
                             "administrators, to "
                             "others only once the application is in a final state.")),
    "attachments": array(ref("Attachment")), "certificates": array(ref("Certificate")),
})
APPLICATION_PAGE = obj({"items": array(ref("ApplicationSummary")), "page": integer(),
                        "per_page": integer(), "total": integer()})
NOTIFICATION = obj({
    "id": integer(), "event": string("What happened: submitted, returned, recommended, "
                                     "state_changed, result_published, withdrawn, assigned, "
                                     "review_due, review_overdue, review_escalation, stage_due, "
                                     "stage_overdue, stage_escalation or certificate_issued."),
    "subject": string(), "body": string("The message as text (Chinese)."),
    "link": nullable(string("Path on this site of the page the message is about.")),
    "application_id": nullable(integer("The entry it is about, if one.")),
    "created_at": DATETIME, "read_at": nullable(DATETIME),
})
NOTIFICATION_PAGE = obj({"items": array(ref("Notification")), "page": integer(),
                         "per_page": integer(), "total": integer(),
                         "unread": integer("All unread messages of the caller.")})
APPLICATION_CREATE = obj({"call_id": integer(), "data": FORM_DATA}, optional=("data",))
APPLICATION_PATCH = obj({
    "data": {**FORM_DATA, "description": FORM_DATA["description"] + " Merged into the stored "
             "data; null clears a field. All or nothing: on 422 nothing is stored."},
    "version": integer("Expected row version (409 when it changed)."),
}, optional=("version",))
TRANSITION_REQUEST = obj({
    "trigger": string(), "comment": string("Required when the transition says so."),
    "data": {**FREE, "description": "Values of the transition's form (`form`)."},
    "version": integer("Expected row version (409 when it changed)."),
}, optional=("comment", "data", "version"))
TRANSITION_RESULT = obj({"id": integer(), "state": string(), "state_label": string(),
                         "version": integer(), "history_entry": ref("HistoryEntry")})
UPLOAD = {"type": "object", "description": "One part per file; the part name is the file "
          "field key of the application form (e.g. `charter`). Several files, also under one "
          "key for a `multiple` field, may be sent at once.",
          "additionalProperties": {"oneOf": [
              string(contentMediaType="application/octet-stream"),
              array(string(contentMediaType="application/octet-stream"))]}}

# --- reviews and bulk -----------------------------------------------------------------------
SHEET_STATUSES = ["assigned", "draft", "submitted", "conflict", "withdrawn"]
ASSIGNMENT_REQUEST = obj({
    "expert": string("Username of an expert."),
    "extra": boolean("An extra expert because the panel's scores spread too far (settles the "
                     "round's dispersion flag once they submit). Default false."),
}, optional=("extra",))
ASSIGNMENT = obj({"id": integer(), "application_id": integer(), "expert": string("Username."),
                  "expert_name": string(), "rubric": string("Rubric key."),
                  "status": string(enum=SHEET_STATUSES),
                  "total": nullable(number()), "assigned_at": DATETIME,
                  "submitted_at": nullable(DATETIME)})
REVIEW = obj({
    "id": integer(), "expert": string("Username."),
    "application": obj({"id": integer(), "title": string(
        "The entry's title (a neutral one when the expert reviews it blind).")}),
    "round": string("The review round (state) the sheet belongs to."),
    "extra": boolean("An extra expert asked because the panel's scores spread too far."),
    "rubric": obj({"key": string(), "title": string(), "title_en": string(),
                   "max": number(), "criteria": array(obj(CRITERION_PROPS),
                                                      "The criteria to score (leaves)."),
                   "vetoes": array(VETO)}),
    "vetoes": array(string(), "Keys of the veto items the expert checked."),
    "revisions": array(obj({
        "scores": map_of(number()), "total": nullable(number()), "comment": string(),
        "vetoes": array(string()), "submitted_at": nullable(DATETIME), "reopened_at": DATETIME,
        "reopened_by": string("Username of the city administrator."), "reason": string()}),
        "Earlier submissions, kept when the city returned the sheet to its expert."),
    "withdrawal": nullable(obj({"at": DATETIME, "reason": string(), "by": nullable(string())},
                               description="Set when a city administrator withdrew the sheet.")),
    "conflict": obj({"checked_at": nullable(DATETIME), "declared": boolean(),
                     "reason": string()},
                    description="The expert's conflict-of-interest answer; materials open only "
                                "after `checked_at` with `declared: false`."),
    "status": string(enum=SHEET_STATUSES),
    "locked": boolean("Submitted sheets can no longer change."),
    "scores": map_of(number(), "Points by criterion key."), "total": nullable(number()),
    "comment": string(), "assigned_at": DATETIME, "submitted_at": nullable(DATETIME),
})
REVIEW_REQUEST = obj({
    "scores": map_of(number(), "Points by criterion key, 0 to the criterion's max, at most two "
                     "decimals; every criterion is required when submitting."),
    "comment": string(maxLength=2000), "submit": boolean("Submit and lock (default false)."),
    "vetoes": array(string(), "Keys of the rubric's veto items that apply (default none)."),
}, optional=("comment", "submit", "vetoes"))
REOPEN_REQUEST = obj({"reason": string("Why the sheet goes back to its expert.")})
AUTO_ASSIGN_REQUEST = obj({
    "per_entry": integer("Experts per entry, 1 to 15 (default 3).", minimum=1, maximum=15),
    "match_tags": string("Use experts' expertise tags (default prefer).",
                         enum=["off", "prefer", "require"]),
    "dry_run": boolean("Only plan (default true)."),
}, optional=("per_entry", "match_tags", "dry_run"))
AUTO_ASSIGNMENT = obj({
    "dry_run": boolean(),
    "assignments": array(obj({"application_id": integer(), "expert": string("Username.")}),
                         "New assignments (made unless dry_run)."),
    "loads": map_of(integer(), "Assignments per expert username, existing ones included."),
    "unfilled": array(obj({"application_id": integer(), "missing": integer(),
                           "reason": string()}), "Entries that cannot get enough experts."),
    "warnings": array(string()),
})
CONFLICT_REQUEST = obj({
    "conflict": boolean("True to declare a conflict of interest and withdraw."),
    "reason": string("Required when declaring a conflict.", maxLength=500),
}, optional=("reason",))
BULK_REQUEST = obj({
    "application_ids": array(integer(), minItems=1, maxItems=500),
    "trigger": string(), "comment": string(),
    "dry_run": boolean("Only check each item (default true)."),
}, optional=("comment", "dry_run"))
BULK_ITEM = obj({"application_id": integer(), "title": string(), "ok": boolean(),
                 "state": nullable(string("State now: after the move, or unchanged.")),
                 "state_label": nullable(string()), "reasons": array(string())})
BULK_RESULT = obj({"bulk_id": nullable(string("Audit id of a real run; null for a dry run.")),
                   "dry_run": boolean(), "passed": integer("Items that moved (or would)."),
                   "items": array(ref("BulkItem"))})
ERROR = obj({
    "error": string("Machine-readable code: bad_request, unauthorized, forbidden, not_found, "
                    "method_not_allowed, conflict, request_entity_too_large, "
                    "validation_failed, guards_failed, too_many_attempts."),
    "message": string("For people (Chinese)."),
    "details": {**FREE, "description": "Field errors as {field: message} (400 missing keys, "
                "422 invalid values), or {\"reasons\": [...]} when guards refuse."},
})

SCHEMAS: dict[str, Schema] = {
    "Error": ERROR, "Organisation": ORGANISATION, "User": USER, "TokenRequest": TOKEN_REQUEST,
    "Token": TOKEN, "ProgrammeSummary": obj(PROGRAMME_SUMMARY), "Programme": PROGRAMME,
    "RuleRef": RULE_REF, "State": STATE, "ReviewRound": REVIEW_ROUND, "Transition": TRANSITION,
    "Choice": CHOICE,
    "Field": FIELD, "FormSection": SECTION, "Form": FORM, "Criterion": CRITERION,
    "Rubric": RUBRIC, "CallRequest": CALL_REQUEST, "Call": CALL, "RankingEntry": RANKING_ENTRY,
    "RoundScore": ROUND_SCORE, "Round": ROUND, "RoundRequest": ROUND_REQUEST,
    "ReviewResult": REVIEW_RESULT, "Verification": VERIFICATION,
    "WaiverRequest": WAIVER_REQUEST, "Waiver": WAIVER, "AwardRow": AWARD_ROW,
    "AwardProposal": AWARD_PROPOSAL, "ConfirmRequest": CONFIRM_REQUEST,
    "EntryFilter": obj(ENTRY_FILTER, optional=tuple(ENTRY_FILTER)),
    "PrintRequest": obj({"order": string("serial (default) or district (then serial).",
                                         enum=["serial", "district"])}, optional=("order",)),
    "RevokeRequest": REVOKE_REQUEST, "ReissueRequest": REISSUE_REQUEST,
    "Invitation": INVITATION, "InviteRequest": INVITE_REQUEST, "AnswerRequest": ANSWER_REQUEST,
    "Panel": PANEL, "PanelRequest": PANEL_REQUEST, "PanelAssignRequest": PANEL_ASSIGN_REQUEST,
    "PanelAssignment": PANEL_ASSIGNMENT, "OpenRequest": OPEN_REQUEST, "LiveBoard": LIVE_BOARD,
    "ApplicationSummary": obj(APPLICATION_SUMMARY), "Application": APPLICATION,
    "ApplicationPage": APPLICATION_PAGE, "ApplicationCreate": APPLICATION_CREATE,
    "ApplicationPatch": APPLICATION_PATCH, "HistoryEntry": HISTORY_ENTRY,
    "AvailableTransition": AVAILABLE_TRANSITION, "Attachment": ATTACHMENT,
    "Certificate": CERTIFICATE, "CertificateFacts": CERTIFICATE_FACTS, "Job": JOB,
    "Objection": OBJECTION, "ObjectionFull": OBJECTION_FULL, "Notice": NOTICE,
    "ObjectionRequest": obj({"name": string(maxLength=50), "contact": string(maxLength=100),
                             "reason": string(minLength=10, maxLength=2000)}),
    "DecisionRequest": obj({"decision": string(enum=["sustained", "dismissed"]),
                            "outcome": string(minLength=5, maxLength=2000)}),
    "TransitionRequest": TRANSITION_REQUEST, "TransitionResult": TRANSITION_RESULT,
    "Upload": UPLOAD, "AssignmentRequest": ASSIGNMENT_REQUEST, "Assignment": ASSIGNMENT,
    "Review": REVIEW, "ReviewRequest": REVIEW_REQUEST, "BulkRequest": BULK_REQUEST,
    "ConflictRequest": CONFLICT_REQUEST, "AutoAssignRequest": AUTO_ASSIGN_REQUEST,
    "ReopenRequest": REOPEN_REQUEST,
    "AutoAssignment": AUTO_ASSIGNMENT,
    "BulkItem": BULK_ITEM, "BulkResult": BULK_RESULT,
    "Notification": NOTIFICATION, "NotificationPage": NOTIFICATION_PAGE,
    "ReadAll": obj({"marked": integer("Messages marked read now."),
                    "unread": integer("Unread messages left (0).")}),
}
