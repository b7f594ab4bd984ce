"""The named guards a workflow may use. Each returns None to allow, or a reason to refuse."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import func, select, update

from app.engine.formdata import missing_required, plain_number
from app.engine.registry import Param, guard
from app.extensions import db
from app.i18n import joined, zh
from app.models import Application, AwardProposal, CallQuota, ReviewAssignment
from app.models.reviews import INACTIVE
from app.services.attachments import attachment_counts

if TYPE_CHECKING:
    from app.engine.runtime import Context

T = TypeVar("T")


def for_batch(ctx: Context, key: str, load: Callable[[list[Application]], dict[int, T]],
              default: T) -> T:
    """The entry's value from ``load``, which reads it for many entries in one query: run once
    for all the entries checked together (a bulk move), or for this one entry alone."""
    if ctx.batch is None:
        return load([ctx.application]).get(ctx.application.id, default)
    if key not in ctx.batch.loaded:
        ctx.batch.loaded[key] = load(ctx.batch.applications)
    return ctx.batch.loaded[key].get(ctx.application.id, default)  # type: ignore[no-any-return]


@guard("call_open", "The call is open: after its opening time and before its closing time.",
       independent=True)
def call_open(ctx: Context) -> str | None:
    """Refuse outside the call's submission window."""
    call = ctx.application.call
    if ctx.now < call.opens_at:
        return zh("申报尚未开始（开始时间 %(opens_at)s）", opens_at=_local(call.opens_at))
    if ctx.now >= call.closes_at:
        return zh("申报已于 %(closes_at)s 截止，不能再提交", closes_at=_local(call.closes_at))
    return None


@guard("form_complete",
       "Every required field of the application form is filled in; in a state with `fill`, "
       "every required field of the sections filled in there.", independent=True)
def form_complete(ctx: Context) -> str | None:
    """Refuse while required fields or attachments are missing, naming them."""
    form = ctx.programme.form_in(ctx.application.state)
    counts = attachment_counts(ctx.application)
    missing = missing_required(form, ctx.application.data or {}, counts)
    if missing:
        labels = joined(form.by_key[key]["label"] for key in missing)
        return zh("以下必填项尚未完成：%(labels)s", labels=labels)
    return None


@guard("within_quota",
       "The district has recommended fewer entries than its quota in this call. `states` "
       "lists the states whose entries count as recommended; with `field`, the quota holds "
       "for each value of that field (e.g. per category).",
       {"states": Param("states", required=True, help="states that count against the quota"),
        "field": Param("field", help="a choice field: the quota applies per value",
                       field_types=("choice",))})
def within_quota(ctx: Context, states: list[str], field: str | None = None) -> str | None:
    """Refuse when the district's quota for the call is used up, showing the numbers."""
    app = ctx.application
    quota = app.call.quota_for(app.district_id)
    if quota is None:
        return None
    # Take the write lock on the quota row first, so concurrent recommendations queue
    # up here and each one counts the others (PostgreSQL row lock, SQLite write lock).
    db.session.execute(update(CallQuota).where(
        CallQuota.call_id == app.call_id, CallQuota.district_id == app.district_id,
    ).values(quota=CallQuota.quota))
    counted = select(Application.data if field else func.count()).where(
        Application.call_id == app.call_id, Application.district_id == app.district_id,
        Application.state.in_(states), Application.id != app.id)
    if field is None:
        used = db.session.scalar(counted) or 0
        scope = ""
    else:  # per category: the same quota for each value of the field
        value = (app.data or {}).get(field)
        used = sum(1 for data in db.session.scalars(counted) if (data or {}).get(field) == value)
        label = ctx.programme.application_form.by_key[field]["label"]
        scope = zh("在“%(label)s”为“%(value)s”的类别中", label=label, value=value)
    if used >= quota:
        return zh("本区%(scope)s推荐名额为 %(quota)s 个，已推荐 %(used)s 个，名额已用完",
                  scope=scope, quota=quota, used=used)
    return None


@guard("district_minimum",
       "Declining this entry still leaves the district able to recommend its minimum for the "
       "call: the entries in `states` (recommended) and those still waiting in the current "
       "state, besides this one, make at least the minimum.",
       {"states": Param("states", required=True, help="states that count as recommended")})
def district_minimum(ctx: Context, states: list[str]) -> str | None:
    """Refuse a refusal that would leave the district below its minimum, with the numbers."""
    app = ctx.application
    minimum = app.call.minimum_for(app.district_id)
    if minimum is None:
        return None
    counts = dict(db.session.execute(
        select(Application.state, func.count()).where(
            Application.call_id == app.call_id, Application.district_id == app.district_id,
            Application.state.in_([*states, app.state]), Application.id != app.id)
        .group_by(Application.state)).all())
    recommended = sum(n for state, n in counts.items() if state in states)
    waiting = counts.get(app.state, 0) if app.state not in states else 0
    if recommended + waiting < minimum:
        return (zh("本区至少应推荐 %(minimum)s 个，已推荐 %(recommended)s 个，另有 %(waiting)s "
                   "个待审核；不予推荐后将达不到最少推荐数",
                   minimum=minimum, recommended=recommended, waiting=waiting))
    return None


@guard("all_reviews_submitted",
       "Every expert assigned in the current review round has submitted, and at least `min` did; "
       "in a round with a quorum, that many sheets (or `min`, if larger) suffice, once any "
       "extra expert (added because the sheets spread too far) has submitted too.",
       {"min": Param("int", default=1, minimum=1,
                     help="the fewest submitted score sheets accepted")}, independent=True)
def all_reviews_submitted(ctx: Context, min: int = 1) -> str | None:  # noqa: A002
    """Refuse while assigned experts have not submitted their scores (or the round's quorum)."""
    review_round = ctx.programme.rounds[ctx.application.state]
    counts: list[SheetCount] = for_batch(ctx, "sheet_counts", _sheet_counts, [])
    rows = [(status, extra, n) for name, status, extra, n in counts if name == review_round.name]
    submitted = sum(n for status, _extra, n in rows if status == "submitted")
    pending = sum(n for status, _extra, n in rows if status != "submitted")
    if review_round.quorum is not None:
        needed = max(min, review_round.quorum)
        if submitted < needed:
            return zh("本轮评审至少需要 %(needed)s 份专家评分，目前 %(submitted)s 份",
                      needed=needed, submitted=submitted)
        # an expert added because the panel's scores spread too far is waited for
        extra = sum(n for status, is_extra, n in rows if is_extra and status != "submitted")
        if extra:
            return zh("尚有 %(extra)s 位增补专家（因评分差异增补）未提交评分", extra=extra)
        return None
    if pending:
        return zh("尚有 %(pending)s 位专家未提交评分（已提交 %(submitted)s 份）",
                  pending=pending, submitted=submitted)
    if submitted < min:
        return zh("至少需要 %(minimum)s 份专家评分，目前 %(submitted)s 份",
                  minimum=min, submitted=submitted)
    return None


SheetCount = tuple[str, str, bool, int]  # round, status, extra expert, how many


def _sheet_counts(applications: list[Application]) -> dict[int, list[SheetCount]]:
    """Each entry's active sheets counted by round, status and whether the expert is extra."""
    found: dict[int, list[SheetCount]] = defaultdict(list)
    for entry, name, status, extra, n in db.session.execute(
            select(ReviewAssignment.application_id, ReviewAssignment.round,
                   ReviewAssignment.status, ReviewAssignment.extra, func.count())
            .where(ReviewAssignment.application_id.in_([a.id for a in applications]),
                   ReviewAssignment.status.not_in(INACTIVE))  # a declared conflict, withdrawn
            .group_by(ReviewAssignment.application_id, ReviewAssignment.round,
                      ReviewAssignment.status, ReviewAssignment.extra)):
        found[entry].append((name, status, extra, n))
    return found


@guard("award_confirmed",
       "The city has confirmed an award level for the entry (from an award proposal, see "
       "reviews.awards); with `awarded: false`, that the call's awards are confirmed and give "
       "the entry none.",
       {"awarded": Param("bool", default=True,
                         help="true: the entry needs a level; false: it must have none"),
        "levels": Param("texts", help="the entry's level must be one of these (e.g. a grade "
                                      "that passes: [优秀, 合格])")}, independent=True)
def award_confirmed(ctx: Context, awarded: bool = True,
                    levels: list[str] | None = None) -> str | None:
    """Refuse until the confirmed awards say what this transition expects."""
    if awarded and not ctx.application.award:
        return zh("该申报尚未确认获奖等级（请先生成并确认奖项建议）")
    if levels and ctx.application.award not in levels:
        return zh("该申报确认的等级为“%(award)s”，此操作需要“%(levels)s”",
                  award=ctx.application.award, levels=zh("”或“").join(levels))
    if not awarded and ctx.application.award:
        return zh("该申报已确认获得“%(award)s”", award=ctx.application.award)
    if not awarded and not for_batch(ctx, "awards_confirmed", _awards_confirmed, False):
        return zh("本批次的奖项尚未确认（请先生成并确认奖项建议）")
    return None


def _awards_confirmed(applications: list[Application]) -> dict[int, bool]:
    """Whether each entry's call has confirmed awards."""
    calls = set(db.session.scalars(select(AwardProposal.call_id).where(
        AwardProposal.call_id.in_({a.call_id for a in applications}),
        AwardProposal.status == "confirmed")))
    return {a.id: a.call_id in calls for a in applications}


def _local(moment) -> str:  # type: ignore[no-untyped-def]
    """Show a UTC time in Beijing time, as people in the bureau read it."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")


@guard("no_open_objection",
       "No objection raised against the entry during its public notice is still undecided.",
       independent=True)
def no_open_objection(ctx: Context) -> str | None:
    """Refuse to end a notice while an objection waits for the city's decision."""
    waiting = for_batch(ctx, "open_objections", _open_objections, 0)
    if waiting:
        return zh("该申报有 %(waiting)s 条异议尚未处理，处理后才能结束公示", waiting=waiting)
    return None


def _open_objections(applications: list[Application]) -> dict[int, int]:
    """How many undecided objections each entry has."""
    from app.models import Objection

    return dict(db.session.execute(  # type: ignore[arg-type]
        select(Objection.application_id, func.count()).where(
            Objection.application_id.in_([a.id for a in applications]),
            Objection.status == "open").group_by(Objection.application_id)).all())


def _score_refusal(ctx: Context, round_name: str, minimum: float, passing: bool) -> str | None:
    """Why the entry's score in ``round_name`` does not allow the step: the step that passes
    needs ``minimum`` and no veto; the step that fails needs less, or a veto."""
    from app.services.rounds import entry_scores

    label = ctx.programme.rounds[round_name].label
    result = entry_scores(ctx.application).rounds.get(round_name)
    if result is None:
        return zh("“%(label)s”尚无专家评分", label=label)
    reached = result.score >= Decimal(str(minimum))
    if passing and result.vetoed:
        return zh("“%(label)s”中有专家勾选了一票否决项", label=label)
    if passing and not reached:
        return zh("“%(label)s”得分 %(score)s，低于 %(minimum)s 分",
                  label=label, score=result.score, minimum=plain_number(minimum))
    if not passing and reached and not result.vetoed:
        return zh("“%(label)s”得分 %(score)s，已达到 %(minimum)s 分",
                  label=label, score=result.score, minimum=plain_number(minimum))
    return None


SCORE_PARAMS = {"round": Param("state", required=True, help="a review state"),
                "min": Param("number", required=True, help="the lowest passing score")}


@guard("round_score_at_least",
       "The entry's score in a review round (its submitted sheets, aggregated as the round "
       "says) is at least `min`, and no sheet checked a veto item.", SCORE_PARAMS, independent=True)
def round_score_at_least(ctx: Context, round: str, min: float) -> str | None:  # noqa: A002
    """Refuse below the pass mark (or with a veto), showing the score."""
    return _score_refusal(ctx, round, min, passing=True)


@guard("round_score_below",
       "The entry's score in a review round is below `min`, or a sheet checked a veto item: "
       "the counterpart of round_score_at_least, for the step that fails the entry.",
       SCORE_PARAMS, independent=True)
def round_score_below(ctx: Context, round: str, min: float) -> str | None:  # noqa: A002
    """Refuse to fail an entry that reached the pass mark."""
    return _score_refusal(ctx, round, min, passing=False)
