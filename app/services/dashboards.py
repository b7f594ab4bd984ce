"""Where a call stands at a glance: entries by state and district, quotas, review progress,
deadlines coming up and objections waiting; and the year's calls with the stages they went through.

Everything here is counted in the database (GROUP BY) and grouped in Python by the definitions, so
the cost does not grow with the number of entries beyond those queries. A district administrator's
view is the same overview restricted to their district.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.engine.calendar import LOCAL, due_at
from app.engine.definitions import Programme
from app.extensions import db
from app.i18n import localised, round_label
from app.models import (
    Application,
    AuditEntry,
    Call,
    CallRound,
    Objection,
    Organisation,
    OrgKind,
    ReviewAssignment,
    Role,
)
from app.models.base import utcnow
from app.services.programmes import catalogue, current_programme, pinned_programme

# Who an entry waits for, in the order the charts stack them (the CSS colours each kind).
KINDS = ("applicant", "district", "review", "city", "passed", "failed")
OPEN_SHEETS = ("assigned", "draft")
SOON = timedelta(days=30)


@dataclass(frozen=True)
class StateCount:
    """Submitted entries in one state of the programme."""

    name: str
    label: str
    kind: str
    count: int


@dataclass
class DistrictRow:
    """One district's entries of the call by kind, with its quota."""

    district: Organisation
    kinds: Counter[str] = field(default_factory=Counter)
    drafts: int = 0
    counted: int = 0  # entries counted against the quota (within_quota's states)
    categories: Counter[str] = field(default_factory=Counter)  # counted, per category
    quota: int | None = None
    minimum: int | None = None

    @property
    def total(self) -> int:
        """Submitted entries of the district."""
        return sum(self.kinds.values())

    @property
    def left(self) -> int | None:
        """Places still free under the quota (None: no quota)."""
        return None if self.quota is None else max(self.quota - self.counted, 0)

    @property
    def short(self) -> int:
        """How many more the district must recommend to reach its minimum."""
        return max((self.minimum or 0) - self.counted, 0)


@dataclass(frozen=True)
class RoundProgress:
    """Score sheets of one review round: how many are in, how many are still open."""

    name: str
    label: str
    submitted: int
    open: int
    declined: int
    experts: int
    deadline: datetime | None
    closed: bool

    @property
    def total(self) -> int:
        """Sheets that count (declared conflicts and withdrawn ones do not)."""
        return self.submitted + self.open

    @property
    def share(self) -> float:
        """Submitted sheets as a share of those that count (1.0 when there are none)."""
        return self.submitted / self.total if self.total else 1.0


@dataclass(frozen=True)
class Deadline:
    """Something that happens by itself (or is due) at a moment: the call closing, a round's
    sheets, entries leaving a state with a deadline."""

    at: datetime
    what: str
    count: int = 0
    state: str | None = None
    round: str | None = None
    label: str = ""


@dataclass
class CallOverview:
    """The figures of one call's overview page."""

    call: Call
    programme: Programme
    drafts: int
    states: list[StateCount]
    districts: list[DistrictRow]
    rounds: list[RoundProgress]
    deadlines: list[Deadline]
    objections_open: int
    objections: list[Objection]
    category_field: str | None = None  # the quota holds per value of this form field

    @property
    def submitted(self) -> int:
        """Entries submitted at least once."""
        return sum(s.count for s in self.states)

    def total(self, kind: str) -> int:
        """Submitted entries of one kind (who they wait for, or how they ended)."""
        return sum(s.count for s in self.states if s.kind == kind)

    @property
    def widest(self) -> int:
        """The largest district total (the scale of the district chart)."""
        return max((d.total for d in self.districts), default=0)


def state_kind(programme: Programme, name: str) -> str:
    """Who an entry in the state waits for, or how it ended: one of KINDS."""
    state = programme.states.get(name) or {}
    if state.get("final"):
        return "passed" if state.get("outcome") in ("awarded", "passed") else "failed"
    if state.get("editable") or state.get("fill"):
        return "applicant"
    if programme.review_round(name) is not None:
        return "review"
    movers = {role for t in programme.transitions_from(name) for role in t["roles"]}
    if Role.DISTRICT_ADMIN in movers and Role.CITY_ADMIN not in movers:
        return "district"
    return "city"


def quota_states(programme: Programme) -> set[str]:
    """The states whose entries count against a district's quota (the within_quota guards')."""
    return {state for t in programme.transitions for guard in t["guards"]
            if guard["name"] == "within_quota" for state in guard["params"]["states"]}


def quota_field(programme: Programme) -> str | None:
    """The form field whose values each get the quota (within_quota's ``field``), if any."""
    return next((guard["params"]["field"] for t in programme.transitions
                 for guard in t["guards"] if guard["name"] == "within_quota"
                 and guard["params"].get("field")), None)


def call_overview(call: Call, district_id: int | None = None,
                  now: datetime | None = None) -> CallOverview:
    """The call's figures; only the district's entries when ``district_id`` is given."""
    now = now or utcnow()
    programme = current_programme(call.programme_key)
    scope = [Application.call_id == call.id]
    if district_id is not None:
        scope.append(Application.district_id == district_id)
    by_state: Counter[str] = Counter()
    districts = _district_rows(call, district_id)
    counted = quota_states(programme)
    for version_id, state, district, submitted, n in db.session.execute(
            select(Application.programme_version_id, Application.state,
                   Application.district_id, Application.submitted_at.is_not(None), func.count())
            .where(*scope)
            .group_by(Application.programme_version_id, Application.state,
                      Application.district_id, Application.submitted_at.is_not(None))):
        row = districts.get(district)
        if not submitted:
            if row is not None:
                row.drafts += n
            continue
        by_state[state] += n
        if row is not None:
            row.kinds[state_kind(pinned_programme(version_id), state)] += n
            row.counted += n if state in counted else 0
    category = quota_field(programme)
    if category and counted:
        for district, data in db.session.execute(
                select(Application.district_id, Application.data)
                .where(*scope, Application.state.in_(counted))):
            if (row := districts.get(district)) is not None:
                row.categories[str((data or {}).get(category) or "—")] += 1
    states = [StateCount(name, localised(s), state_kind(programme, name), by_state.pop(name))
              for name, s in programme.states.items() if by_state.get(name)]
    states += [StateCount(name, name, "city", n) for name, n in sorted(by_state.items())]
    open_objections = (select(Objection).join(Application)
                       .where(*scope, Objection.status == "open"))
    return CallOverview(
        call=call, programme=programme,
        drafts=sum(d.drafts for d in districts.values()) if district_id is not None
        else _drafts(call),
        states=states, districts=list(districts.values()),
        rounds=(rounds := round_progress(call, programme, scope)),
        deadlines=_deadlines(call, programme, scope, now,
                             [(r.name, r.deadline) for r in rounds
                              if r.deadline is not None and not r.closed]),
        objections_open=db.session.scalar(
            select(func.count()).select_from(open_objections.subquery())) or 0,
        objections=list(db.session.scalars(
            open_objections.order_by(Objection.created_at).limit(5))),
        category_field=category)


def _district_rows(call: Call, district_id: int | None) -> dict[int | None, DistrictRow]:
    """A row per district (just the one when scoped), with the call's quota and minimum."""
    query = select(Organisation).where(Organisation.kind == OrgKind.DISTRICT)
    if district_id is not None:
        query = query.where(Organisation.id == district_id)
    return {d.id: DistrictRow(d, quota=call.quota_for(d.id), minimum=call.minimum_for(d.id))
            for d in db.session.scalars(query.order_by(Organisation.code))}


def _drafts(call: Call) -> int:
    """Drafts of the call never submitted (city-level units have no district)."""
    return db.session.scalar(select(func.count()).where(
        Application.call_id == call.id, Application.submitted_at.is_(None))) or 0


def round_progress(call: Call, programme: Programme,
                   scope: list[Any] | None = None) -> list[RoundProgress]:
    """Every review round of the programme with its sheets counted by status (of the entries
    ``scope`` selects; the whole call by default)."""
    scope = scope or [Application.call_id == call.id]
    counts: dict[str, Counter[str]] = {}
    experts: dict[str, int] = {}
    sheets = select(ReviewAssignment.round, ReviewAssignment.status, func.count()).join(
        Application, Application.id == ReviewAssignment.application_id).where(*scope)
    for name, status, n in db.session.execute(
            sheets.group_by(ReviewAssignment.round, ReviewAssignment.status)):
        counts.setdefault(name, Counter())[status] += n
    for name, n in db.session.execute(
            select(ReviewAssignment.round, func.count(ReviewAssignment.expert_id.distinct()))
            .join(Application, Application.id == ReviewAssignment.application_id)
            .where(*scope, ReviewAssignment.status.not_in(("conflict", "withdrawn")))
            .group_by(ReviewAssignment.round)):
        experts[name] = n
    stored = {r.round: r for r in db.session.scalars(
        select(CallRound).where(CallRound.call_id == call.id))}
    rounds = []
    for name, review_round in programme.rounds.items():
        c = counts.get(name, Counter())
        kept = stored.get(name)
        rounds.append(RoundProgress(
            name=name, label=round_label(review_round), submitted=c["submitted"],
            open=sum(c[s] for s in OPEN_SHEETS), declined=c["conflict"],
            experts=experts.get(name, 0), deadline=kept.deadline if kept else None,
            closed=bool(kept and kept.closed)))
    return rounds


def _deadlines(call: Call, programme: Programme, scope: list[Any], now: datetime,
               round_deadlines: list[tuple[str, datetime]]) -> list[Deadline]:
    """What falls due from a week ago to a month ahead, soonest first; ``round_deadlines``
    are the open rounds' (name, deadline), as the caller already has them."""
    timed = _timed_states(programme)
    entries = db.session.execute(select(Application.state, Application.state_since).where(
        *scope, Application.state.in_(timed))).all() if timed else []
    return _due(call, programme, now, round_deadlines, entries)


def _timed_states(programme: Programme) -> set[str]:
    """The states that end by themselves after a deadline."""
    return {name for name, state in programme.states.items() if state.get("deadline")}


def _due(call: Call, programme: Programme, now: datetime,
         round_deadlines: list[tuple[str, datetime]],
         entries: Sequence[tuple[str, datetime]]) -> list[Deadline]:
    """`_deadlines` from what was read: the open rounds' deadlines, and the (state, since) of
    the entries in the programme's timed states."""
    found = []
    if now - timedelta(days=7) <= call.closes_at <= now + SOON:
        found.append(Deadline(call.closes_at, "call_closes"))
    for name, deadline in round_deadlines:
        if now - timedelta(days=7) <= deadline <= now + SOON:
            found.append(Deadline(deadline, "round_due", round=name))
    due: Counter[tuple[datetime, str]] = Counter()
    for state, since in entries:
        at = due_at(programme.states[state]["deadline"], since, call.closes_at)
        if at <= now + SOON:
            due[(at, state)] += 1
    found += [Deadline(at, "state_ends", n, state=state) for (at, state), n in due.items()]
    return sorted(found, key=lambda d: d.at)


def coming_up(calls: list[Call], now: datetime | None = None,
              days: int = 14) -> list[tuple[Call, Deadline]]:
    """What falls due in the next ``days`` days across ``calls`` (nothing already past),
    soonest first: for the city's list of calls. Two queries, however many calls."""
    now = now or utcnow()
    shown = [(call, programme) for call in calls
             if (programme := catalogue().get(call.programme_key)) is not None
             and call.opens_at <= now + timedelta(days=days)]
    ids = [call.id for call, _ in shown]
    rounds: dict[int, list[tuple[str, datetime]]] = {}
    for r in db.session.scalars(select(CallRound).where(
            CallRound.call_id.in_(ids), CallRound.deadline.is_not(None),
            CallRound.closed_at.is_(None))):
        if r.deadline is not None:
            rounds.setdefault(r.call_id, []).append((r.round, r.deadline))
    timed = {call.id: _timed_states(programme) for call, programme in shown}
    entries: dict[int, list[tuple[str, datetime]]] = {}
    if any(timed.values()):
        for call_id, state, since in db.session.execute(
                select(Application.call_id, Application.state, Application.state_since).where(
                    Application.call_id.in_(ids), Application.state.in_(set().union(
                        *timed.values())))):
            if state in timed[call_id]:
                entries.setdefault(call_id, []).append((state, since))
    found = []
    for call, programme in shown:
        due = _due(call, programme, now, rounds.get(call.id, []), entries.get(call.id, []))
        found += [(call, d) for d in due if now <= d.at <= now + timedelta(days=days)]
    return sorted(found, key=lambda pair: pair[1].at)


@dataclass(frozen=True)
class Span:
    """A stretch of time on the year calendar: the application window (kind ``window``, no
    label) or a stage's span (from the first entry reaching the state to the last leaving it, or
    now while entries are still there)."""

    label: str
    start: datetime
    end: datetime
    kind: str
    ongoing: bool = False


@dataclass
class CalendarRow:
    """One call on the year calendar with its spans and its deadlines still ahead."""

    call: Call
    programme_title: str
    spans: list[Span]
    marks: list[Deadline]


def year_calendar(year: int, now: datetime | None = None) -> list[CalendarRow]:
    """The calls touching ``year`` (by its Beijing dates), each with the stages its entries
    went through — from the audit log — and the deadlines set ahead."""
    now = now or utcnow()
    start = datetime(year, 1, 1, tzinfo=LOCAL)
    end = datetime(year + 1, 1, 1, tzinfo=LOCAL)
    calls = list(db.session.scalars(
        select(Call).where(Call.opens_at < end, (Call.year == year) | (Call.closes_at >= start))
        .order_by(Call.opens_at, Call.id)))
    ids = [c.id for c in calls]
    arrived: dict[tuple[int, str | None], datetime] = {
        (call_id, state): at for call_id, state, at in db.session.execute(
            select(Application.call_id, AuditEntry.to_state, func.min(AuditEntry.at))
            .join(Application).where(Application.call_id.in_(ids))
            .group_by(Application.call_id, AuditEntry.to_state))}
    left: dict[tuple[int, str | None], datetime] = {
        (call_id, state): at for call_id, state, at in db.session.execute(
            select(Application.call_id, AuditEntry.from_state, func.max(AuditEntry.at))
            .join(Application).where(Application.call_id.in_(ids),
                                     AuditEntry.from_state.is_not(None))
            .group_by(Application.call_id, AuditEntry.from_state))}
    occupied = {(call_id, state) for call_id, state in db.session.execute(
        select(Application.call_id, Application.state).where(
            Application.call_id.in_(ids), Application.submitted_at.is_not(None)).distinct())}
    rounds: dict[int, list[CallRound]] = {}
    for r in db.session.scalars(select(CallRound).where(CallRound.call_id.in_(ids),
                                                        CallRound.deadline.is_not(None))):
        rounds.setdefault(r.call_id, []).append(r)
    rows = []
    for call in calls:
        programme = catalogue().get(call.programme_key)
        spans = [Span("", call.opens_at, call.closes_at, "window",
                      call.opens_at <= now < call.closes_at)]
        for name, state in (programme.states.items() if programme else ()):
            kind = state_kind(programme, name) if programme else "city"
            first = arrived.get((call.id, name))
            if first is None or state.get("final") or kind == "applicant":
                continue
            ongoing = (call.id, name) in occupied
            last = now if ongoing else left.get((call.id, name), first)
            spans.append(Span(localised(state), first, max(last, first), kind, ongoing))
        named = programme.rounds if programme else {}
        marks = [Deadline(r.deadline, "round_due", round=r.round,
                          label=round_label(named[r.round]) if r.round in named else r.round)
                 for r in rounds.get(call.id, []) if r.deadline and not r.closed]
        rows.append(CalendarRow(call, localised(programme.workflow, "title") if programme
                                else call.programme_key, spans, marks))
    return rows

