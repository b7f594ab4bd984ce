"""A reference model of 社区教育优秀团队遴选 (workflows/excellent_team.yaml) for the stateful test.

Plain Python that imports nothing from the app: who may do what in which state, what the state
is after, the quotas, and which entries each user may see. Each `may_*` method answers the
status the API should give (200/201 allowed; 403, 404, 409 or 422 refused) and, when allowed,
`apply_*` changes the model as the app should change its database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLE = {"wj1": "applicant", "tn1": "applicant", "wj_admin": "district_admin",
        "tn_admin": "district_admin", "city": "city_admin", "expert1": "expert",
        "expert2": "expert"}
DISTRICT = {"wj1": "WJ", "tn1": "TN", "wj_admin": "WJ", "tn_admin": "TN"}
USERS = sorted(ROLE)
EXPERTS = [name for name in USERS if ROLE[name] == "expert"]
QUOTAS = {"WJ": 1, "TN": 1}
RECOMMENDED = ("city_review", "notice", "named", "not_selected")  # what counts against a quota
EDITABLE = ("draft", "returned")
FINAL = ("named", "not_recommended", "not_selected", "withdrawn")
INACTIVE = ("conflict", "withdrawn")  # sheets that no longer count
MAX_PHOTOS = 9


@dataclass(frozen=True)
class Step:
    """One transition of the workflow: from where, to where, whose, and its comment rule."""

    sources: tuple[str, ...]
    dest: str
    role: str
    comment: str = "optional"  # "required", "none" or "optional"
    form: bool = False  # asks for the district's recommendation form (rank, opinion)


STEPS = {
    "submit": Step(("draft",), "district_review", "applicant", comment="none"),
    "resubmit": Step(("returned",), "district_review", "applicant"),
    "withdraw": Step(("draft", "district_review", "returned"), "withdrawn", "applicant"),
    "return_for_correction": Step(("district_review",), "returned", "district_admin",
                                  comment="required"),
    "recommend": Step(("district_review",), "city_review", "district_admin", form=True),
    "not_recommend": Step(("district_review",), "not_recommended", "district_admin",
                          comment="required"),
    "city_return": Step(("city_review",), "returned", "city_admin", comment="required"),
    "publish_notice": Step(("city_review",), "notice", "city_admin"),
    "decline": Step(("city_review",), "not_selected", "city_admin", comment="required"),
    "name_team": Step(("notice",), "named", "city_admin"),
    "objection_upheld": Step(("notice",), "not_selected", "city_admin", comment="required"),
}


@dataclass
class Sheet:
    """An expert's score sheet for one entry (the round is always 市级评审)."""

    id: int
    expert: str
    entry: int
    status: str = "assigned"  # assigned, draft, submitted, conflict, withdrawn
    confirmed: bool = False  # the expert answered the conflict-of-interest question


@dataclass
class Entry:
    """An application as the model knows it."""

    id: int
    owner: str
    complete: bool  # every required form field filled in
    state: str = "draft"
    charter: bool = False  # the required file
    photos: int = 0
    submitted: bool = False  # once submitted, administrators see it
    moves: list[tuple[str | None, str]] = field(default_factory=lambda: [(None, "draft")])

    @property
    def district(self) -> str:
        """The owner's district."""
        return DISTRICT[self.owner]


@dataclass
class Model:
    """Every entry and sheet, and the rules over them."""

    entries: dict[int, Entry] = field(default_factory=dict)
    sheets: dict[int, Sheet] = field(default_factory=dict)

    # --- who sees what -------------------------------------------------------------------
    def may_view(self, user: str, entry: Entry) -> bool:
        """Owner; administrators of its reach once submitted; experts with an open sheet."""
        role = ROLE[user]
        if role == "applicant":
            return entry.owner == user
        if role == "district_admin":
            return entry.submitted and entry.district == DISTRICT[user]
        if role == "city_admin":
            return entry.submitted
        return any(s.expert == user and s.confirmed and s.status not in INACTIVE
                   for s in self.sheets.values() if s.entry == entry.id)

    def visible(self, user: str) -> set[int]:
        """The entries `user` may list."""
        return {e.id for e in self.entries.values() if self.may_view(user, e)}

    def recommended(self, district: str, besides: int | None = None) -> int:
        """How many of the district's entries count against its quota."""
        return sum(1 for e in self.entries.values()
                   if e.district == district and e.state in RECOMMENDED and e.id != besides)

    # --- the applicant's form -----------------------------------------------------------
    def may_create(self, user: str, valid: bool) -> int:
        """Starting a draft: applicants only, with valid values."""
        if ROLE[user] != "applicant":
            return 403
        return 201 if valid else 422

    def may_edit(self, user: str, entry: Entry, valid: bool, stale: bool) -> int:
        """Changing the form: the owner while the entry is editable; stale version 409."""
        if not self.may_view(user, entry):
            return 403
        if entry.owner != user or entry.state not in EDITABLE:
            return 403
        if stale:
            return 409
        return 200 if valid else 422

    def may_upload(self, user: str, entry: Entry, kind: str) -> int:
        """Uploading a file: as editing; the content must match, photos at most nine."""
        if not self.may_view(user, entry) or entry.owner != user \
                or entry.state not in EDITABLE:
            return 403
        if kind == "fake_charter" or (kind == "photo" and entry.photos >= MAX_PHOTOS):
            return 422
        return 201

    def apply_upload(self, entry: Entry, kind: str) -> None:
        """A charter replaces the one before; photos add up."""
        if kind == "charter":
            entry.charter = True
        else:
            entry.photos += 1

    # --- transitions ---------------------------------------------------------------------
    def may_fire(self, user: str, entry: Entry, trigger: str, comment: bool,
                 form: bool) -> int:
        """A transition over the API: view, state, role, comment, step form, guards."""
        step = STEPS[trigger]
        if not self.may_view(user, entry):
            return 403
        if entry.state not in step.sources:
            return 409
        if not self._acts(user, entry, step):
            return 403
        return self._checks(entry, trigger, comment, form)

    def may_fire_html(self, user: str, entry: Entry, trigger: str, comment: bool,
                      form: bool) -> tuple[int, int]:
        """A transition through its page: the GET of the step page, then the POST."""
        step = STEPS[trigger]
        if not self.may_view(user, entry):
            return 403, 403
        if entry.state in step.sources:
            if not self._acts(user, entry, step):
                return 403, 403
            status = self._checks(entry, trigger, comment, form and step.form)  # extra fields
            return 200, 302 if status == 200 else status
        return (409, 409) if ROLE[user] == step.role else (403, 403)

    def _acts(self, user: str, entry: Entry, step: Step) -> bool:
        """Role and reach (the entry is visible, so the reach is given)."""
        return ROLE[user] == step.role and (step.role != "applicant" or entry.owner == user)

    def _checks(self, entry: Entry, trigger: str, comment: bool, form: bool) -> int:
        """Comment rule, step form (required where the step has one, refused elsewhere),
        guards: 422 when one refuses."""
        step = STEPS[trigger]
        if (step.comment == "required" and not comment) or (step.comment == "none" and comment):
            return 422
        if step.form != form:
            return 422
        return 200 if not self._guard_refuses(entry, trigger) else 422

    def _guard_refuses(self, entry: Entry, trigger: str) -> bool:
        """The workflow's guards, as the model understands them."""
        if trigger in ("submit", "resubmit"):
            return not (entry.complete and entry.charter)
        if trigger == "recommend":
            return self.recommended(entry.district, besides=entry.id) >= QUOTAS[entry.district]
        if trigger in ("publish_notice", "decline"):
            active = [s for s in self.sheets.values()
                      if s.entry == entry.id and s.status not in INACTIVE]
            submitted = sum(1 for s in active if s.status == "submitted")
            return submitted < 1 or submitted < len(active)
        return False

    def apply_fire(self, entry: Entry, trigger: str) -> None:
        """Move the entry and remember the move."""
        step = STEPS[trigger]
        if entry.state == "draft" and step.dest not in FINAL:
            entry.submitted = True
        entry.moves.append((entry.state, step.dest))
        entry.state = step.dest

    # --- experts -------------------------------------------------------------------------
    def may_assign(self, user: str, entry: Entry, expert: str) -> int:
        """The city asks an expert to score an entry in city review, once."""
        if ROLE[user] != "city_admin" or not self.may_view(user, entry):
            return 403
        if ROLE[expert] != "expert":
            return 422
        if entry.state != "city_review":
            return 409
        if any(s.entry == entry.id and s.expert == expert for s in self.sheets.values()):
            return 409
        return 201

    def may_declare(self, user: str, sheet: Sheet) -> int:
        """The sheet's expert answers the conflict question once, while the task is theirs."""
        if sheet.expert != user:
            return 403
        if sheet.confirmed or sheet.status in INACTIVE:
            return 409
        return 200

    def apply_declare(self, sheet: Sheet, conflict: bool) -> None:
        """Confirmed; a declared conflict takes the expert off the entry."""
        sheet.confirmed = True
        if conflict:
            sheet.status = "conflict"

    def may_score(self, user: str, sheet: Sheet, complete: bool, submit: bool) -> int:
        """The expert saves or submits while the sheet is open and the entry in review."""
        if sheet.expert != user:
            return 403
        if sheet.status in ("submitted", *INACTIVE) or not sheet.confirmed \
                or self.entries[sheet.entry].state != "city_review":
            return 409
        return 422 if submit and not complete else 200

    def may_withdraw_sheet(self, user: str, sheet: Sheet) -> int:
        """The city takes back an open, unsubmitted sheet of an entry still in review."""
        if ROLE[user] != "city_admin":
            return 403
        if sheet.status in ("submitted", *INACTIVE) \
                or self.entries[sheet.entry].state != "city_review":
            return 409
        return 200

    def may_reopen(self, user: str, sheet: Sheet) -> int:
        """The city gives a submitted sheet back while its entry is in review."""
        if ROLE[user] != "city_admin":
            return 403
        if sheet.status != "submitted" or self.entries[sheet.entry].state != "city_review":
            return 409
        return 200

    def may_read_sheet(self, user: str, sheet: Sheet) -> int:
        """A sheet is its expert's and the city's."""
        return 200 if sheet.expert == user or ROLE[user] == "city_admin" else 403
