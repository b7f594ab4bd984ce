"""Review rounds of a call: where each stands, deadlines, closing with a stored, verifiable result.

A round is a review state of the programme (see `Programme.rounds`). Closing it freezes its
result: the sheets it used, the aggregation settings, the rubric and programme version, the
entry results and a fingerprint, so that `verify_result` can compute it again and compare.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.engine.definitions import Programme, ReviewRound
from app.engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.engine.review_settings import aggregation_input
from app.extensions import db
from app.i18n import zh
from app.models import (
    Application,
    Call,
    CallRound,
    DispersionWaiver,
    ProgrammeVersion,
    ReviewAssignment,
    ReviewResult,
    Role,
    User,
)
from app.models.base import utcnow
from app.review.aggregate import (
    AggregationSettings,
    EntryResult,
    Sheet,
    aggregate_round,
    fingerprint,
    result_as_dict,
    result_from_dict,
    settings_as_dict,
    sheet_as_dict,
    sheet_from_dict,
)
from app.review.ranking import combine_rounds
from app.services.programmes import current_programme, record_version


@dataclass(frozen=True)
class EntryStatus:
    """One entry of a round: its sheets, its live result and whether it holds the round open."""

    application: Application
    submitted: int
    pending: int  # active sheets not submitted yet
    needed: int  # submitted sheets the round needs from this entry
    result: EntryResult | None
    waiver: DispersionWaiver | None
    extra_submitted: bool  # an extra expert asked because of the spread has submitted
    in_round: bool  # still in the round's state: only those entries must be complete
    by_quorum: bool  # the round names a quorum: pending sheets beyond it do not hold it open

    @property
    def complete(self) -> bool:
        """Enough sheets are in: the quorum, or every active sheet (at least one)."""
        return self.submitted >= self.needed and (self.pending == 0 or self.by_quorum)

    @property
    def dispersion_open(self) -> bool:
        """The sheets spread too far and neither an extra expert nor a reason settled it."""
        return bool(self.result and self.result.flagged_dispersion and self.waiver is None
                    and not self.extra_submitted)


@dataclass(frozen=True)
class RoundStatus:
    """A round of a call as the administrator sees it before closing it."""

    call: Call
    round: ReviewRound
    record: CallRound | None
    entries: list[EntryStatus]
    settings: AggregationSettings

    @property
    def closed(self) -> bool:
        """Whether the round's result is frozen and released."""
        return self.record is not None and self.record.closed

    @property
    def deadline(self) -> datetime | None:
        """When the experts' sheets are due, if the administrator set it."""
        return self.record.deadline if self.record else None

    @property
    def overdue(self) -> bool:
        """The deadline has passed while an entry still in the round lacks its sheets."""
        return (self.deadline is not None and not self.closed and self.deadline < utcnow()
                and any(not e.complete for e in self.entries if e.in_round))

    @property
    def blockers(self) -> list[str]:
        """Why the round cannot close now (empty: it can)."""
        waiting = [e for e in self.entries if e.in_round and not e.complete]
        spread = [e for e in self.entries if e.in_round and e.dispersion_open]
        problems = []
        if not any(e.in_round or e.submitted for e in self.entries):
            problems.append(zh("本轮没有申报，也没有已提交的评分"))
        if waiting:
            problems.append(zh("%(waiting)s 个申报的专家评分尚未收齐", waiting=len(waiting)))
        if spread:
            problems.append(zh("%(spread)s 个申报的专家评分差异过大，须增加专家评分或记录不增加"
                               "的理由",
                               spread=len(spread)))
        return problems


def round_of(call: Call, name: str) -> ReviewRound:
    """The round `name` of the call's programme, or NotFound."""
    found = current_programme(call.programme_key).review_round(name)
    if found is None:
        raise NotFound(zh("该项目没有这一评审轮次"), {"round": name})
    return found


def settings_for(review_round: ReviewRound) -> AggregationSettings:
    """The round's aggregation, on the scale of its rubric (for normalisation)."""
    return AggregationSettings.from_dict({**aggregation_input(review_round.aggregation),
                                          "scale_max": str(review_round.rubric.raw["max"])})


def _record(call: Call, name: str) -> CallRound | None:
    """The stored row of a round of the call, if any."""
    return db.session.scalar(select(CallRound).filter_by(call_id=call.id, round=name))


def _sheet(assignment: ReviewAssignment) -> Sheet:
    """A submitted assignment as the aggregation library reads it."""
    return Sheet(expert=assignment.expert.username, entry=assignment.application_id,
                 total=Decimal(str(assignment.total)),
                 criteria={k: Decimal(str(v)) for k, v in (assignment.scores or {}).items()},
                 vetoed=bool(assignment.vetoes), submitted_at=assignment.submitted_at)


def round_sheets(call: Call, name: str, application: Application | None = None) -> list[Sheet]:
    """The submitted sheets of a round of the call (of one entry, if given), in a stable order.

    Read as plain rows (no ORM objects): a province-wide call has tens of thousands of sheets.
    """
    query = (select(User.username, ReviewAssignment.application_id, ReviewAssignment.total,
                    ReviewAssignment.scores, ReviewAssignment.vetoes,
                    ReviewAssignment.submitted_at)
             .join(Application, Application.id == ReviewAssignment.application_id)
             .join(User, User.id == ReviewAssignment.expert_id)
             .where(Application.call_id == call.id, ReviewAssignment.round == name,
                    ReviewAssignment.status == "submitted")
             .order_by(ReviewAssignment.id))
    if application is not None:
        query = query.where(ReviewAssignment.application_id == application.id)
    return [Sheet(expert=expert, entry=entry, total=Decimal(str(total)),
                  criteria={k: Decimal(str(v)) for k, v in (scores or {}).items()},
                  vetoed=bool(vetoes), submitted_at=submitted_at)
            for expert, entry, total, scores, vetoes, submitted_at in db.session.execute(query)]


@dataclass(frozen=True)
class EntryScores:
    """One entry's result in each round it has sheets in, and its final weighted score."""

    rounds: dict[str, EntryResult]
    final: Decimal | None  # None until the entry has a score in every round of positive weight


def entry_scores(application: Application) -> EntryScores:
    """The entry's scores as the ranking computes them (stored results for closed rounds)."""
    call = application.call
    programme = current_programme(call.programme_key)
    records = {r.round: r for r in db.session.scalars(
        select(CallRound).where(CallRound.call_id == call.id))}
    found: dict[str, EntryResult] = {}
    for name, review_round in programme.rounds.items():
        record = records.get(name)
        if record is not None and record.closed and record.result is not None:
            result = stored_results(record.result).get(application.id)
        else:
            settings = settings_for(review_round)
            # normalisation looks at each expert's whole pool; otherwise the entry's sheets do
            sheets = round_sheets(call, name, None if settings.normalise else application)
            result = next((r for r in aggregate_round(sheets, settings)
                           if r.entry == application.id), None)
        if result is not None:
            found[name] = result
    weights = {name: r.weight for name, r in programme.rounds.items()}
    scores = {name: ({application.id: found[name].score} if name in found else {})
              for name in weights}
    final = combine_rounds(scores, weights).get(application.id) if weights else None
    return EntryScores(found, final)


def round_status(call: Call, name: str) -> RoundStatus:
    """Every entry of the round (in its state now, or with sheets in it) and what it lacks."""
    review_round = round_of(call, name)
    settings = settings_for(review_round)
    sheets = db.session.execute(
        select(ReviewAssignment, Application).join(Application)
        .where(Application.call_id == call.id, ReviewAssignment.round == name)
        .order_by(ReviewAssignment.id)).all()
    entries = {a.id: a for a in db.session.scalars(select(Application).where(
        Application.call_id == call.id, Application.state == name).order_by(Application.id))}
    for _sheet_row, application in sheets:
        entries.setdefault(application.id, application)
    results = {r.entry: r for r in aggregate_round(
        [_sheet(s) for s, _a in sheets if s.status == "submitted"], settings)}
    waivers = {w.application_id: w for w in db.session.scalars(
        select(DispersionWaiver).where(DispersionWaiver.round == name,
                                       DispersionWaiver.application_id.in_(entries)))}
    by_entry: dict[int, list[ReviewAssignment]] = defaultdict(list)
    for sheet, application in sheets:
        if sheet.active:
            by_entry[application.id].append(sheet)
    statuses = []
    for entry_id, application in sorted(entries.items()):
        own = by_entry[entry_id]
        submitted = sum(1 for s in own if s.status == "submitted")
        statuses.append(EntryStatus(
            application=application, submitted=submitted, pending=len(own) - submitted,
            needed=review_round.quorum or max(1, len(own)), result=results.get(entry_id),
            waiver=waivers.get(entry_id),
            extra_submitted=any(s.extra and s.status == "submitted" for s in own),
            in_round=application.state == name, by_quorum=review_round.quorum is not None))
    return RoundStatus(call, review_round, _record(call, name), statuses, settings)


def _require_city(actor: User) -> None:
    """Rounds are the city's business."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以管理评审轮次"))


def _ensure_record(call: Call, name: str) -> CallRound:
    """The round's row, created on first use."""
    record = _record(call, name)
    if record is None:
        record = CallRound(call_id=call.id, round=name)
        db.session.add(record)
    return record


def set_deadline(call: Call, name: str, deadline: datetime | None, actor: User) -> CallRound:
    """Set (or clear) when the experts' sheets of the round are due."""
    _require_city(actor)
    round_of(call, name)
    record = _ensure_record(call, name)
    if record.closed:
        raise Conflict(zh("该轮评审已结束，不能再修改截止时间"))
    record.deadline = deadline
    db.session.flush()
    return record


def close_round(call: Call, name: str, actor: User) -> ReviewResult:
    """Freeze the round's result and release it; refused while sheets or spread checks are open."""
    _require_city(actor)
    status = round_status(call, name)
    if status.closed:
        raise Conflict(zh("该轮评审已经结束"))
    if status.blockers:
        raise Conflict(zh("本轮评审还不能结束"), {"reasons": status.blockers})
    result = store_round_result(call, status.round, actor)
    record = _ensure_record(call, name)
    record.closed_at, record.closed_by_id, record.result = utcnow(), actor.id, result
    db.session.flush()
    return result


def reopen_round(call: Call, name: str, actor: User) -> CallRound:
    """Open a closed round again (e.g. an entry came back to it); its stored result stays."""
    _require_city(actor)
    round_of(call, name)
    record = _record(call, name)
    if record is None or not record.closed:
        raise Conflict(zh("该轮评审尚未结束"))
    record.closed_at, record.closed_by_id, record.result = None, None, None
    db.session.flush()
    return record


def store_round_result(call: Call, review_round: ReviewRound, actor: User | None) -> ReviewResult:
    """Compute the round's result now and store it with its inputs, settings and fingerprint."""
    programme = current_programme(call.programme_key)
    settings = settings_for(review_round)
    sheets = round_sheets(call, review_round.name)
    context = _context(programme, review_round, call)
    result = ReviewResult(
        call_id=call.id, round=review_round.name,
        programme_version_id=record_version(programme).id,
        settings=settings_as_dict(settings),
        inputs={"context": context, "sheets": [sheet_as_dict(s) for s in sheets]},
        results=[result_as_dict(r) for r in aggregate_round(sheets, settings)],
        fingerprint=fingerprint(sheets, settings, context),
        computed_by_id=actor.id if actor else None)
    db.session.add(result)
    db.session.flush()
    return result


def _context(programme: Programme, review_round: ReviewRound, call: Call) -> dict[str, Any]:
    """What, beside sheets and settings, identifies a round's computation."""
    return {"call": call.id, "round": review_round.name, "rubric": review_round.rubric.raw["key"],
            "programme": programme.key, "version": programme.version,
            "checksum": programme.checksum}


@dataclass(frozen=True)
class Verification:
    """The outcome of computing a stored result again from what it stored."""

    result: ReviewResult
    fingerprint_matches: bool
    results_match: bool
    differences: list[dict[str, Any]]

    @property
    def ok(self) -> bool:
        """Same inputs and the same answer."""
        return self.fingerprint_matches and self.results_match


def verify_result(result: ReviewResult) -> Verification:
    """Recompute a stored round result from its stored sheets and settings, and compare."""
    if result.round is None:
        raise ValidationFailed(zh("该结果不是某一轮评审的结果"))
    settings = AggregationSettings.from_dict(result.settings)
    sheets = [sheet_from_dict(row) for row in result.inputs["sheets"]]
    again = [result_as_dict(r) for r in aggregate_round(sheets, settings)]
    stored_by_entry = {row["entry"]: row for row in result.results}
    differences = [{"entry": row["entry"], "stored": stored_by_entry.get(row["entry"]),
                    "recomputed": row}
                   for row in again if stored_by_entry.get(row["entry"]) != row]
    differences += [{"entry": entry, "stored": row, "recomputed": None}
                    for entry, row in stored_by_entry.items()
                    if entry not in {r["entry"] for r in again}]
    return Verification(
        result=result,
        fingerprint_matches=fingerprint(sheets, settings, result.inputs["context"])
        == result.fingerprint,
        results_match=not differences, differences=differences)


def stored_results(result: ReviewResult) -> dict[int, EntryResult]:
    """A stored round result's entry results, by entry."""
    return {row["entry"]: result_from_dict(row) for row in result.results}


def waive_dispersion(application: Application, name: str, actor: User,
                     reason: str) -> DispersionWaiver:
    """Record why a widely spread panel gets no extra expert, so the round can close."""
    _require_city(actor)
    round_of(application.call, name)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(zh("请说明不增加专家评分的理由"), {"reason": zh("此项为必填项")})
    if len(reason) > 500:
        raise ValidationFailed(zh("理由不能超过 500 字"), {"reason": zh("不能超过 500 字")})
    record = _record(application.call, name)
    if record is not None and record.closed:
        raise Conflict(zh("该轮评审已经结束"))
    existing = db.session.scalar(select(DispersionWaiver).filter_by(
        application_id=application.id, round=name))
    if existing is not None:
        raise Conflict(zh("已记录过不增加专家评分的理由"), {"waiver": existing.id})
    waiver = DispersionWaiver(application_id=application.id, round=name, reason=reason,
                              created_by_id=actor.id)
    db.session.add(waiver)
    db.session.flush()
    return waiver


def result_version(result: ReviewResult) -> ProgrammeVersion:
    """The programme version a stored result was computed under."""
    return db.session.get_one(ProgrammeVersion, result.programme_version_id)
