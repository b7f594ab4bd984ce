"""The paths of the OpenAPI document: one entry per route of the API blueprint."""

from __future__ import annotations

from typing import Any

from app.blueprints.api.openapi_schemas import (
    ENTRY_FILTER,
    Schema,
    array,
    integer,
    ref,
    string,
)

ERRORS = {
    400: ("BadRequest", "Malformed JSON, a body that is not an object, or a required key "
                        "missing (details name the missing keys)."),
    401: ("Unauthorized", "No bearer token, an invalid or expired one, or wrong credentials."),
    403: ("Forbidden", "The caller's role or organisational scope does not allow this."),
    404: ("NotFound", "No such object (or trigger)."),
    409: ("Conflict", "The object changed meanwhile (stale `version`), is in the wrong state, "
                      "or is locked."),
    413: ("PayloadTooLarge", "The request is larger than the server accepts."),
    422: ("Unprocessable", "Invalid values: details map field keys to messages, or hold "
                           "{\"reasons\": [...]} when a transition's guards refuse."),
    429: ("TooManyRequests", "Too many failed logins or certificate lookups; retry after "
                             "`Retry-After` seconds."),
}
XLSX = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
    "schema": string(contentMediaType="application/vnd.openxmlformats-officedocument."
                                      "spreadsheetml.sheet")}}
PDF = {"application/pdf": {"schema": string(contentMediaType="application/pdf")}}
ZIP = {"application/zip": {"schema": string(contentMediaType="application/zip")}}
BINARY = {"*/*": {"schema": {
    "description": "The file as uploaded; its type (one the form field accepts) is in "
                   "Content-Type and its name in Content-Disposition."}}}


def json_content(schema: Schema) -> dict[str, Any]:
    """A JSON media type with its schema."""
    return {"application/json": {"schema": schema}}


def answer(description: str, schema: Schema | None = None,
           content: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response: JSON with `schema`, other `content`, or no body."""
    body = json_content(schema) if schema is not None else content
    return {"description": description, **({"content": body} if body else {})}


def operation(operation_id: str, tag: str, summary: str, responses: dict[int, Any],
              errors: tuple[int, ...] = (), *, body: Schema | None = None,
              query: tuple[dict[str, Any], ...] = (), public: bool = False,
              description: str = "", multipart: bool = False,
              body_required: bool = True) -> dict[str, Any]:
    """One operation; secured ones may always answer 401."""
    codes = sorted(set(errors) | ({401} if not public else set()))
    result: dict[str, Any] = {
        "operationId": operation_id, "tags": [tag], "summary": summary,
        "responses": {**{str(s): r for s, r in responses.items()},
                      **{str(c): {"$ref": f"#/components/responses/{ERRORS[c][0]}"}
                         for c in codes}},
    }
    if description:
        result["description"] = description
    if query:
        result["parameters"] = list(query)
    if body is not None:
        media = "multipart/form-data" if multipart else "application/json"
        result["requestBody"] = {"required": body_required,
                                 "content": {media: {"schema": body}}}
    if public:
        result["security"] = []
    return result


def in_path(name: str, description: str, schema: Schema | None = None) -> dict[str, Any]:
    """A path parameter."""
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or integer(minimum=1)}


def in_query(name: str, description: str, schema: Schema) -> dict[str, Any]:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def in_header(name: str, description: str, schema: Schema) -> dict[str, Any]:
    """An optional request header."""
    return {"name": name, "in": "header", "required": False, "description": description,
            "schema": schema}


IDEMPOTENCY_KEY = in_header(
    "Idempotency-Key", "A key the client makes up for this request (a UUID, say). A repeat "
    "with the same key by the same user (a retry after a lost answer, a double send, even ten "
    "at once) creates nothing new: it answers 201 with the draft the first request started. "
    "The same key for another call is refused (422).",
    string(minLength=1, maxLength=64, pattern="^[\\x21-\\x7e]+$"))
APPLICATION_ID = in_path("application_id", "Application id.")
ROUND_NAME = in_path("name", "Round: the name of a review state.", string())
CALL_ID = in_path("call_id", "Call id.")
EXPORT_SCOPE = "City administrators get the whole call, district administrators their own " \
               "district's entries; other roles 403."
ENTRY_FILTERS = tuple(in_query(name, schema["description"], schema)
                      for name, schema in ENTRY_FILTER.items())
ITEMS_DESCRIPTION = "The caller sees: applicants their own, district administrators their " \
                    "district's submitted entries, experts their assigned ones, the city all."


op = operation  # short names keep the table below readable
LIST = array

PATHS: dict[str, dict[str, Any]] = {
    "/tokens": {
        "post": op("create_token", "tokens", "Log in: exchange username and password for a token",
                   {201: answer("A bearer token.", ref("Token"))}, (400, 401, 403, 422, 429),
                   body=ref("TokenRequest"), public=True,
                   description="Failed attempts (passwords and codes) are counted per username "
                               "and address; too many give 429. An account with two-step "
                               "verification on must give `otp` (401 with details "
                               "`{\"otp\": \"required\"}` without it, `invalid` when wrong or "
                               "already used: each code is good once). An administrator who "
                               "must set it up (REQUIRE_TOTP_FOR_ADMINS) gets 403 until they "
                               "have, in the browser. Tokens expire at `expires_at`."),
        "delete": op("delete_token", "tokens", "Log out: revoke the token used for this call",
                     {204: answer("Revoked.")}),
    },
    "/me": {"get": op("me", "tokens", "The user the token belongs to",
                      {200: answer("The user.", ref("User"))})},
    "/programmes": {"get": op("list_programmes", "programmes", "Programmes defined now",
                              {200: answer("Programmes.", LIST(ref("ProgrammeSummary")))})},
    "/programmes/{key}": {
        "parameters": [in_path("key", "Programme key.", string())],
        "get": op("get_programme", "programmes",
                  "A programme: states, transitions, forms with their fields, rubrics",
                  {200: answer("The definition.", ref("Programme"))}, (404, 422),
                  query=(in_query("version", "A recorded version (default: the current "
                                  "definition).", integer(minimum=1)),)),
    },
    "/calls": {
        "get": op("list_calls", "calls", "Every call, newest first",
                  {200: answer("Calls.", LIST(ref("Call")))}),
        "post": op("create_call", "calls", "Open a call (city administrators)",
                   {201: answer("The call.", ref("Call"))}, (400, 403, 422),
                   body=ref("CallRequest")),
    },
    "/calls/{call_id}": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("get_call", "calls", "One call", {200: answer("The call.", ref("Call"))},
                  (404,)),
    },
    "/calls/{call_id}/ranking": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("call_ranking", "rounds",
                  "Entries ranked by final (weighted) score, then incomplete ones (city)",
                  {200: answer("Ranking.", LIST(ref("RankingEntry")))}, (403, 404),
                  description="Closed rounds count with their stored result, open ones as "
                              "computed now. Vetoed entries come last with rank null; entries "
                              "missing a weighted round follow with score null."),
    },
    "/calls/{call_id}/rounds": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("list_rounds", "rounds", "The call's review rounds (city administrators)",
                  {200: answer("Rounds in definition order.", LIST(ref("Round")))}, (403, 404)),
    },
    "/calls/{call_id}/rounds/{name}": {
        "parameters": [in_path("call_id", "Call id."), ROUND_NAME],
        "get": op("get_round", "rounds", "A round with each entry's sheets (city administrators)",
                  {200: answer("The round, with `entries`.", ref("Round"))}, (403, 404)),
        "put": op("put_round", "rounds", "Set or clear the round's deadline",
                  {200: answer("The round.", ref("Round"))}, (400, 403, 404, 409, 422),
                  body=ref("RoundRequest")),
    },
    "/calls/{call_id}/rounds/{name}/close": {
        "parameters": [in_path("call_id", "Call id."), ROUND_NAME],
        "post": op("close_round", "rounds", "Close the round and store its result",
                   {201: answer("The stored result.", ref("ReviewResult"))}, (403, 404, 409),
                   description="Refused (409, details.reasons) while an entry in the round "
                               "lacks sheets (or the quorum) or has an unresolved spread flag."),
    },
    "/calls/{call_id}/rounds/{name}/reopen": {
        "parameters": [in_path("call_id", "Call id."), ROUND_NAME],
        "post": op("reopen_round", "rounds", "Open a closed round again (its result stays)",
                   {200: answer("The round.", ref("Round"))}, (403, 404, 409)),
    },
    "/calls/{call_id}/award-proposals": {
        "parameters": [in_path("call_id", "Call id.")],
        "post": op("propose_awards", "rounds", "Propose award levels from the current ranking",
                   {201: answer("The proposal.", ref("AwardProposal"))}, (403, 404, 409),
                   description="Uses the workflow's reviews.awards; 409 when it has none or no "
                               "entry has a final score. An older open proposal is superseded."),
    },
    "/award-proposals/{proposal_id}": {
        "parameters": [in_path("proposal_id", "Award proposal id.")],
        "get": op("get_award_proposal", "rounds", "An award proposal",
                  {200: answer("The proposal.", ref("AwardProposal"))}, (403, 404)),
    },
    "/award-proposals/{proposal_id}/confirm": {
        "parameters": [in_path("proposal_id", "Award proposal id.")],
        "post": op("confirm_award_proposal", "rounds",
                   "Confirm a proposal (with changed levels and a reason)",
                   {200: answer("The confirmed proposal.", ref("AwardProposal"))},
                   (400, 403, 404, 409, 422), body=ref("ConfirmRequest"),
                   description="Writes each entry's award. 409 when the proposal is no longer "
                               "open or the ranking changed since it was made."),
    },
    "/calls/{call_id}/review-sheets.xlsx": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("export_review_sheets", "rounds", "Every score sheet and round result (Excel)",
                  {200: answer("An .xlsx workbook: sheets 评分明细 (one row per score sheet: "
                               "expert, entry, each criterion, total, vetoes, comment, times) and "
                               "各轮结果 (each round's aggregate per entry).", content=XLSX)},
                  (403, 404)),
    },
    "/calls/{call_id}/ranking.xlsx": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("export_ranking", "rounds", "The ranking (Excel)",
                  {200: answer("An .xlsx workbook with the sheet 排名: place, entry, unit, "
                               "district, each round's score, final score, state, award.",
                               content=XLSX)}, (403, 404)),
    },
    "/calls/{call_id}/invitations": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("list_invitations", "panels", "Experts invited to the call, and their answers",
                  {200: answer("Invitations.", LIST(ref("Invitation")))}, (403, 404)),
        "post": op("create_invitations", "panels", "Invite experts to the call",
                   {201: answer("The new invitations.", LIST(ref("Invitation")))},
                   (400, 403, 404, 422), body=ref("InviteRequest"),
                   description="Once a call has invitations, only experts who accepted are "
                               "assigned (by hand or automatically)."),
    },
    "/invitations": {
        "get": op("my_invitations", "panels", "The caller's invitations (experts)",
                  {200: answer("Unanswered first.", LIST(ref("Invitation")))}, (403,)),
    },
    "/invitations/{invitation_id}/answer": {
        "parameters": [in_path("invitation_id", "Invitation id.")],
        "post": op("answer_invitation", "panels", "Accept, or decline with a reason",
                   {200: answer("The invitation.", ref("Invitation"))},
                   (400, 403, 404, 409, 422), body=ref("AnswerRequest")),
    },
    "/calls/{call_id}/panels": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("list_panels", "panels", "The call's panels (专家组)",
                  {200: answer("Panels.", LIST(ref("Panel")))}, (403, 404)),
        "post": op("create_panel", "panels", "Create a panel for a round",
                   {201: answer("The panel.", ref("Panel"))}, (400, 403, 404, 409, 422),
                   body=ref("PanelRequest")),
    },
    "/panels/{panel_id}/assign": {
        "parameters": [in_path("panel_id", "Panel id.")],
        "post": op("assign_panel", "panels", "Assign entries to every member of the panel",
                   {200: answer("What was made and what was not, with reasons.",
                                ref("PanelAssignment"))}, (400, 403, 404, 422),
                   body=ref("PanelAssignRequest")),
    },
    "/panels/{panel_id}/draw": {
        "parameters": [in_path("panel_id", "Panel id.")],
        "post": op("draw_panel_order", "panels", "Draw the order of appearance by lot (live)",
                   {200: answer("The live board.", ref("LiveBoard"))}, (403, 404, 409),
                   description="The chair or a city administrator; once; recorded."),
    },
    "/panels/{panel_id}/open": {
        "parameters": [in_path("panel_id", "Panel id.")],
        "post": op("open_panel_entry", "panels", "Open an entry for scoring (live)",
                   {200: answer("The live board.", ref("LiveBoard"))},
                   (400, 403, 404, 409, 422), body=ref("OpenRequest"),
                   description="Judges can save a sheet of a live round only while its entry "
                               "is open."),
    },
    "/panels/{panel_id}/live": {
        "parameters": [in_path("panel_id", "Panel id.")],
        "get": op("get_panel_live", "panels", "The live board (members and the city)",
                  {200: answer("The live board.", ref("LiveBoard"))}, (403, 404)),
    },
    "/results/{result_id}": {
        "parameters": [in_path("result_id", "Stored result id.")],
        "get": op("get_result", "rounds", "A stored result with its input sheets",
                  {200: answer("The result.", ref("ReviewResult"))}, (403, 404)),
    },
    "/results/{result_id}/verify": {
        "parameters": [in_path("result_id", "Stored result id.")],
        "post": op("verify_result", "rounds", "Recompute a stored result and compare",
                   {200: answer("The comparison.", ref("Verification"))}, (403, 404, 422)),
    },
    "/applications/{application_id}/dispersion-waiver": {
        "parameters": [APPLICATION_ID],
        "post": op("waive_dispersion", "rounds",
                   "Record why a widely spread panel gets no extra expert",
                   {201: answer("The recorded waiver.", ref("Waiver"))},
                   (400, 403, 404, 409, 422), body=ref("WaiverRequest")),
    },
    "/reviews/{review_id}/withdraw": {
        "parameters": [in_path("review_id", "Score sheet (assignment) id.")],
        "post": op("withdraw_review", "reviews",
                   "Withdraw an unsubmitted sheet from its expert (city administrators)",
                   {200: answer("The sheet, status withdrawn, with the reason.", ref("Review"))},
                   (400, 403, 404, 409, 422), body=ref("ReopenRequest"),
                   description="How an entry is reassigned: withdraw, then assign another "
                               "expert. The sheet stays on record; a submitted sheet is "
                               "refused (409): reopen it first."),
    },
    "/reviews/{review_id}/reopen": {
        "parameters": [in_path("review_id", "Score sheet (assignment) id.")],
        "post": op("reopen_review", "reviews",
                   "Return a submitted sheet to its expert (city administrators)",
                   {200: answer("The sheet, now a draft, with the submitted one in `revisions`.",
                                ref("Review"))},
                   (400, 403, 404, 409, 422), body=ref("ReopenRequest"),
                   description="Only while the entry is in the sheet's review state; the reason "
                               "is required and kept with the earlier submission."),
    },
    "/calls/{call_id}/auto-assign": {
        "parameters": [in_path("call_id", "Call id.")],
        "post": op("auto_assign", "reviews",
                   "Plan or make automatic expert assignments for a call (city administrators)",
                   {200: answer("The plan (and whether it was applied).", ref("AutoAssignment"))},
                   (400, 403, 404, 409, 422), body=ref("AutoAssignRequest"),
                   description="Every entry of the call in a review state gets `per_entry` "
                               "experts in all (existing assignments count), never of its own "
                               "unit, of its own district when the programme excludes it, or "
                               "with a declared conflict; loads are balanced within one where "
                               "the rules allow. `dry_run` (default true) changes nothing."),
    },
    "/applications": {
        "get": op("list_applications", "applications", "Applications the caller may see",
                  {200: answer("A page, newest first.", ref("ApplicationPage"))}, (422,),
                  description=ITEMS_DESCRIPTION, query=(
                      in_query("call_id", "Only this call.", integer(minimum=1)),
                      in_query("state", "Only this state (name).", string()),
                      in_query("page", "Page number (default 1).", integer(minimum=1)),
                      in_query("per_page", "Items per page (default 20, at most 100; larger "
                               "values are lowered to 100).", integer(minimum=1)))),
        "post": op("create_application", "applications",
                   "Start a draft in an open call (applicants)",
                   {201: answer("The application.", ref("Application"))}, (400, 403, 422),
                   body=ref("ApplicationCreate"), query=(IDEMPOTENCY_KEY,),
                   description="Values are checked field by field (422 with {field: message}); "
                               "required fields are only checked at submission. Send an "
                               "`Idempotency-Key` header to make retries safe: one key, one "
                               "draft."),
    },
    "/applications/{application_id}": {
        "parameters": [APPLICATION_ID],
        "get": op("get_application", "applications",
                  "An application with history, files, certificates and possible moves",
                  {200: answer("The application.", ref("Application"))}, (403, 404)),
        "patch": op("patch_application", "applications",
                    "Change the form data of one's own application in an editable state",
                    {200: answer("The application.", ref("Application"))},
                    (400, 403, 404, 409, 422), body=ref("ApplicationPatch")),
    },
    "/applications/{application_id}/transitions": {
        "parameters": [APPLICATION_ID],
        "post": op("transition", "applications", "Fire a trigger (submit, recommend, ...)",
                   {200: answer("The new state and the audit entry.", ref("TransitionResult"))},
                   (400, 403, 404, 409, 422), body=ref("TransitionRequest"),
                   description="403 when the caller's role or scope may not fire it; 404 for a "
                               "trigger the programme does not have; 409 when the current "
                               "state has no such move or `version` is stale; 422 when guards "
                               "refuse (details.reasons), a required comment is missing, or "
                               "the step form's data is invalid."),
    },
    "/applications/{application_id}/attachments": {
        "parameters": [APPLICATION_ID],
        "post": op("upload_attachments", "attachments",
                   "Upload files (multipart; part name = file field key)",
                   {201: answer("The stored files.", LIST(ref("Attachment")))},
                   (400, 403, 404, 413, 422), body=ref("Upload"), multipart=True,
                   description="Type is checked by extension and content; a single-file field "
                               "is replaced."),
    },
    "/applications/{application_id}/attachments/{attachment_id}": {
        "parameters": [APPLICATION_ID, in_path("attachment_id", "Attachment id.")],
        "get": op("download_attachment", "attachments", "Download an attachment",
                  {200: answer("The file.", content=BINARY)}, (403, 404)),
        "delete": op("remove_attachment", "attachments",
                     "Delete an attachment while the application is editable",
                     {204: answer("Deleted.")}, (403, 404)),
    },
    "/applications/{application_id}/certificates/{certificate_id}/pdf": {
        "parameters": [APPLICATION_ID, in_path("certificate_id", "Certificate id.")],
        "get": op("certificate_pdf", "certificates", "The certificate as PDF",
                  {200: answer("The PDF.", content=PDF)}, (403, 404, 409),
                  description="A revoked or replaced certificate: 409, except for city "
                              "administrators."),
    },
    "/certificates/{code}": {
        "parameters": [in_path("code", "Verification code printed on the certificate.",
                               string())],
        "get": op("verify_certificate", "certificates",
                  "Public verification: the certificate's facts and status",
                  {200: answer("The facts.", ref("CertificateFacts"))}, (404, 429), public=True,
                  description="Every lookup is logged; an address may look up "
                              "VERIFY_MAX_PER_MINUTE times a minute (default 30), then 429."),
    },
    "/calls/{call_id}/certificates.zip": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("call_certificates_zip", "certificates",
                  "Every valid certificate of the call, as PDFs in a ZIP (city)",
                  {200: answer("A ZIP of serial-holder.pdf files.",
                               content={"application/zip": {"schema": string(
                                   contentMediaType="application/zip")}})}, (403, 404, 409),
                  description="409 when the call has no valid certificate. Logged."),
    },
    "/notices": {
        "get": op("list_notices", "notices", "Entries in public notice, per call (public)",
                  {200: answer("The notices.", LIST(ref("Notice")))}, (), public=True),
    },
    "/applications/{application_id}/objections": {
        "parameters": [APPLICATION_ID],
        "post": op("raise_objection", "notices",
                   "Raise an objection against an entry in public notice (public)",
                   {201: answer("The objection; keep the receipt.", ref("Objection"))},
                   (400, 404, 409, 422, 429), public=True, body=ref("ObjectionRequest"),
                   description="JSON, or multipart/form-data with the same fields and an "
                               "optional file `evidence` (PDF, JPG, PNG, ≤ 10 MB). 409 when the "
                               "entry is not in notice; 429 after 5 an hour from one address."),
    },
    "/objections/{receipt}": {
        "parameters": [in_path("receipt", "The receipt code.", string())],
        "get": op("objection_by_receipt", "notices", "An objection's status and outcome "
                  "(public, by receipt)", {200: answer("The objection.", ref("Objection"))},
                  (404,), public=True),
    },
    "/calls/{call_id}/objections": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("call_objections", "notices", "The call's objections (city)",
                  {200: answer("Open ones first.", LIST(ref("ObjectionFull")))}, (403, 404)),
    },
    "/objections/{objection_id}/decide": {
        "parameters": [in_path("objection_id", "Objection id.")],
        "post": op("decide_objection", "notices", "Sustain or dismiss an objection (city)",
                   {200: answer("The decided objection.", ref("Objection"))},
                   (400, 403, 404, 409, 422), body=ref("DecisionRequest"),
                   description="Sustained fires the notice's `sustained` transition with the "
                               "outcome as its comment. 409 when already decided."),
    },
    "/calls/{call_id}/recommended.zip": {
        "parameters": [in_path("call_id", "Call id.")],
        "get": op("call_recommended_dossiers", "certificates",
                  "Dossiers of the entries recommended to a higher level (city)",
                  {200: answer("推荐名单.xlsx and a folder of attachments per entry.",
                               content={"application/zip": {"schema": string(
                                   contentMediaType="application/zip")}})}, (403, 404, 409),
                  description="Entries marked by the action recommend_upward (e.g. 省级), by "
                              "district. 409 when there is none."),
    },
    "/calls/{call_id}/certificates/print": {
        "parameters": [in_path("call_id", "Call id.")],
        "post": op("print_call_certificates", "certificates",
                   "Draw one print-ready PDF of the call's valid certificates (city)",
                   {202: answer("The job; when done, GET /jobs/{job_id}/file.", ref("Job"))},
                   (400, 403, 404, 409, 422), body=ref("PrintRequest"), body_required=False,
                   description="Drawn in the background as multi-page documents of 100 "
                               "pages, joined into one file. While a print run of the call "
                               "runs, that job is returned. 409 when the call has no valid "
                               "certificate."),
    },
    "/calls/{call_id}/certificates/issue": {
        "parameters": [in_path("call_id", "Call id.")],
        "post": op("issue_call_certificates", "certificates",
                   "Issue every awarded entry's certificate in the background (city)",
                   {202: answer("The job; poll Location (GET /jobs/{job_id}) for progress.",
                                ref("Job"))}, (403, 404, 409),
                   description="Creates the missing certificates (serials, codes) and draws "
                               "every PDF not yet on disk, on the background worker. While a "
                               "job of the call runs, that job is returned. 409 when there is "
                               "nothing to issue."),
    },
    "/jobs/{job_id}": {
        "parameters": [in_path("job_id", "Job id.")],
        "get": op("job", "certificates", "A background job and its progress",
                  {200: answer("The job.", ref("Job"))}, (403, 404),
                  description="City administrators follow every job; a district "
                              "administrator the export jobs (call_dossiers, "
                              "applications_export) of their own district (403 for others)."),
    },
    "/jobs/{job_id}/file": {
        "parameters": [in_path("job_id", "Job id.")],
        "get": op("job_file", "certificates", "The file of a finished job",
                  {200: answer("A print run's PDF (one page per certificate; logged as handed "
                               "out), a call's ZIP of dossiers, or a big call's applications "
                               "workbook.", content={**PDF, **ZIP, **XLSX})}, (403, 404, 409),
                  description="Who may: as for GET /jobs/{job_id}. 409 while the job is not "
                              "done, for a job without a file (issue_certificates), or when a "
                              "newer export of the same call and district replaced the file."),
    },
    "/calls/{call_id}/applications.xlsx": {
        "parameters": [CALL_ID],
        "get": op("export_applications", "exports",
                  "The call's submitted entries with every form field (Excel)",
                  {200: answer("An .xlsx workbook: sheet 申报信息 (申报编号, 申报名称, 申报单位, "
                               "所属区, 当前状态, 提交时间, every form field, the step forms' "
                               "fields, 获奖等级, 推荐至上级, 推荐时间, 证书编号) and a sheet per "
                               "table field.", content=XLSX)},
                  (403, 404, 409, 422), query=ENTRY_FILTERS,
                  description=EXPORT_SCOPE + " Drafts are never exported. More than "
                              "EXPORT_INLINE_LIMIT entries (default 2000): 409, details "
                              "{count, limit, start} where start names the POST that builds "
                              "the workbook in the background (nothing is started by this "
                              "GET)."),
    },
    "/calls/{call_id}/application-exports": {
        "parameters": [CALL_ID],
        "post": op("start_application_export", "exports",
                   "Build the call's applications workbook in the background",
                   {202: answer("The job (kind applications_export); follow Location (GET "
                                "/jobs/{job_id}), then GET /jobs/{job_id}/file.", ref("Job"))},
                   (400, 403, 404, 422), body=ref("EntryFilter"), body_required=False,
                   query=ENTRY_FILTERS,
                   description=EXPORT_SCOPE + " The filters of GET applications.xlsx, in the "
                               "JSON body or the query (the body wins). The way to export a "
                               "call over EXPORT_INLINE_LIMIT entries; any call may use it. "
                               "While the same export (call, district, filters) runs, that "
                               "job is returned."),
    },
    "/calls/{call_id}/summary.xlsx": {
        "parameters": [CALL_ID],
        "get": op("export_summary", "exports", "The district summary table 汇总表 (Excel)",
                  {200: answer("An .xlsx workbook with the sheet 汇总表: per district 申报数, "
                               "推荐数, 推荐名额, 最低推荐数, entries per state and per award "
                               "level, then 合计 (not for a district).", content=XLSX)},
                  (403, 404), description=EXPORT_SCOPE),
    },
    "/calls/{call_id}/notice.xlsx": {
        "parameters": [CALL_ID],
        "get": op("export_notice", "exports", "The public-notice list 公示名单 (Excel)",
                  {200: answer("An .xlsx workbook with a sheet per notice stage: the columns "
                               "of the public notice page, then 单位.", content=XLSX)},
                  (403, 404, 409),
                  description="City and district administrators (the list is public). 409 "
                              "when no entry of the call is in public notice."),
    },
    "/applications/{application_id}/print.pdf": {
        "parameters": [APPLICATION_ID],
        "get": op("print_application", "exports", "The printed application 申报书 (PDF)",
                  {200: answer("The 申报书.", content=PDF)}, (403, 404),
                  description="Its applicant (drafts too), and district and city "
                              "administrators who may open the entry (once submitted). "
                              "Administrators' copies add the result and the record of moves; "
                              "the city's also the review summary. Experts: 403."),
    },
    "/calls/{call_id}/dossiers": {
        "parameters": [CALL_ID],
        "post": op("start_dossiers", "exports",
                   "Build the call's ZIP of dossiers in the background",
                   {202: answer("The job (kind call_dossiers); follow Location, then GET "
                                "/jobs/{job_id}/file.", ref("Job"))}, (403, 404, 409),
                   description=EXPORT_SCOPE + " The ZIP holds 目录.xlsx and a folder "
                               "<district>/<entry no>-<title>/ per submitted entry with its "
                               "申报书.pdf and attachments. While a job of the call and "
                               "district runs, that job is returned. 409 when there is no "
                               "submitted entry."),
    },
    "/certificates/{certificate_id}/revoke": {
        "parameters": [in_path("certificate_id", "Certificate id.")],
        "post": op("revoke_certificate", "certificates", "Revoke a certificate (city)",
                   {200: answer("The certificate, now revoked.", ref("Certificate"))},
                   (400, 403, 404, 409, 422), body=ref("RevokeRequest")),
    },
    "/certificates/{certificate_id}/reissue": {
        "parameters": [in_path("certificate_id", "Certificate id.")],
        "post": op("reissue_certificate", "certificates",
                   "Replace a certificate: a new serial and code (city)",
                   {201: answer("The new certificate; the old one is marked replaced.",
                                ref("Certificate"))}, (400, 403, 404, 409, 422),
                   body=ref("ReissueRequest")),
    },
    "/applications/{application_id}/assignments": {
        "parameters": [APPLICATION_ID],
        "get": op("list_assignments", "reviews",
                  "Experts assigned to an application (city administrators)",
                  {200: answer("Assignments.", LIST(ref("Assignment")))}, (403, 404)),
        "post": op("create_assignment", "reviews",
                   "Assign an expert to an application under review (city administrators)",
                   {201: answer("The assignment.", ref("Assignment"))},
                   (400, 403, 404, 409, 422), body=ref("AssignmentRequest")),
    },
    "/reviews": {"get": op("list_reviews", "reviews", "The caller's score sheets (experts)",
                           {200: answer("Sheets, open ones first.", LIST(ref("Review")))},
                           (403,))},
    "/reviews/{review_id}": {
        "parameters": [in_path("review_id", "Score sheet (assignment) id.")],
        "get": op("get_review", "reviews", "A score sheet (its expert or the city)",
                  {200: answer("The sheet.", ref("Review"))}, (403, 404)),
        "put": op("put_review", "reviews", "Save or submit the scores (the sheet's expert)",
                  {200: answer("The sheet.", ref("Review"))}, (400, 403, 404, 409, 422),
                  body=ref("ReviewRequest"),
                  description="A submitted sheet is locked: changing it again gives 409. "
                              "Scores can be saved only after the expert confirmed having no "
                              "conflict of interest (409 before)."),
    },
    "/reviews/{review_id}/conflict": {
        "parameters": [in_path("review_id", "Score sheet (assignment) id.")],
        "post": op("declare_conflict", "reviews",
                   "Confirm no conflict of interest, or declare one (the sheet's expert)",
                   {200: answer("The sheet.", ref("Review"))}, (400, 403, 404, 409, 422),
                   body=ref("ConflictRequest"),
                   description="Before the materials open, the expert answers once: with "
                               "`conflict: false` the entry opens; with `conflict: true` and a "
                               "reason the expert withdraws and the declaration is kept."),
    },
    "/notifications": {
        "get": op("list_notifications", "notifications",
                  "The caller's inbox: unread messages first, then newest",
                  {200: answer("A page of messages and the unread count.",
                               ref("NotificationPage"))}, (422,),
                  query=(in_query("unread", "1: only unread messages (default 0).",
                                  integer(minimum=0, maximum=1)),
                         in_query("page", "Page number (default 1).", integer(minimum=1)),
                         in_query("per_page", "Items per page (default 20, at most 100).",
                                  integer(minimum=1)))),
    },
    "/notifications/{notification_id}/read": {
        "parameters": [in_path("notification_id", "Notification id.")],
        "post": op("read_notification", "notifications", "Mark one of the caller's messages "
                   "read", {200: answer("The message.", ref("Notification"))}, (403, 404),
                   description="403 for another user's message."),
    },
    "/notifications/read-all": {
        "post": op("read_all_notifications", "notifications",
                   "Mark every unread message of the caller read",
                   {200: answer("How many were marked.", ref("ReadAll"))}),
    },
    "/bulk-transitions": {
        "post": op("bulk_transition", "applications",
                   "Check or fire one trigger on many applications (administrators)",
                   {200: answer("One item per id.", ref("BulkResult"))}, (400, 403, 422),
                   body=ref("BulkRequest"),
                   description="Each item moves (or fails with its reasons) on its own; the "
                               "moved ones share `bulk_id` in their history."),
    },
    "/openapi.json": {"get": op("openapi", "meta", "This document",
                                {200: answer("OpenAPI 3.1.", {"type": "object"})},
                                public=True)},
}
