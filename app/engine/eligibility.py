"""Eligibility guards a definition may put on any transition, usually on submit or recommend.

Each is parameterised in the workflow file and returns None to allow, or the reason to refuse
(shown beside the disabled button and in the API's ``reasons``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from app.engine.calendar import LOCAL
from app.engine.formdata import plain_number
from app.engine.registry import Param, guard
from app.extensions import db
from app.i18n import joined, zh
from app.models import Application, Call, Organisation, User
from app.services.attachments import attachment_counts
from app.services.programmes import programme_of

if TYPE_CHECKING:
    from app.engine.runtime import Context

BY = ("applicant", "unit")


def _label(ctx: Context, key: str) -> str:
    """The label of an application-form field."""
    return str(ctx.programme.application_form.by_key[key]["label"])


def _same(application: Application, by: str) -> Any:
    """The condition 'the same applicant' or 'the same unit' as ``application``."""
    return Application.applicant_id == application.applicant_id if by == "applicant" \
        else Application.org_id == application.org_id


def _lock_whose(application: Application, by: str) -> None:
    """Take the write lock on the applicant's account or the unit before counting their
    entries, so that entries handed in at once (two tabs) queue up here and each counts the
    others (PostgreSQL row lock, SQLite write lock)."""
    if by == "applicant":
        db.session.execute(update(User).where(User.id == application.applicant_id)
                           .values(id=User.id))
    else:
        db.session.execute(update(Organisation).where(Organisation.id == application.org_id)
                           .values(id=Organisation.id))


def _counts(other: Application, refused: bool = True) -> bool:
    """Whether another entry counts: handed in (left the initial state) and not withdrawn —
    nor, with ``refused`` false, ended as rejected (a refused nominee may be replaced)."""
    programme = programme_of(other)
    state = programme.states.get(other.state, {})
    ended = {"withdrawn"} if refused else {"withdrawn", "rejected"}
    return other.state != programme.initial and state.get("outcome") not in ended


@guard("one_entry_per",
       "At most `max` entries per applicant (`by: applicant`) or per unit (`by: unit`) in the "
       "call; with `field`, per value of that field (e.g. one per category). Drafts and "
       "withdrawn entries do not count; with `count_refused: false`, nor refused ones.",
       {"by": Param("choice", default="applicant", choices=BY,
                    help="applicant (the account) or unit (the organisation)"),
        "max": Param("int", default=1, minimum=1, help="entries allowed"),
        "field": Param("field", help="count per value of this field", field_types=("choice",)),
        "count_refused": Param("bool", default=True,
                               help="false: entries that ended rejected do not count")})
def one_entry_per(ctx: Context, by: str, max: int, field: str | None,  # noqa: A002
                  count_refused: bool = True) -> str | None:
    """Refuse when the applicant or unit already has ``max`` entries (in the category)."""
    app = ctx.application
    _lock_whose(app, by)
    others = [a for a in db.session.scalars(select(Application).where(
        Application.call_id == app.call_id, Application.id != app.id, _same(app, by)))
        if _counts(a, count_refused)
        and (field is None or (a.data or {}).get(field) == (app.data or {}).get(field))]
    if len(others) < max:
        return None
    who = zh("每位申报人") if by == "applicant" else zh("每个单位")
    scope = zh("在“%(label)s”为“%(value)s”的类别中",
               label=_label(ctx, field), value=(app.data or {}).get(field)) if field else ""
    titles = joined(f"“{a.title}”" for a in others[:3])
    return zh("本批次%(scope)s%(who)s最多申报 %(maximum)s 项，已有 %(titles)s",
              scope=scope, who=who, maximum=max, titles=titles)


@guard("not_prior_winner",
       "The applicant, the unit, or the person named in `field` did not win in this programme "
       "(an entry ending in an `awarded` state) in the `years` calls' years before this one.",
       {"years": Param("int", required=True, minimum=1, help="years looked back"),
        "by": Param("choice", default="applicant", choices=(*BY, "field"),
                    help="applicant, unit, or field (a form field naming the person)"),
        "field": Param("field", help="with by: field, the field compared (e.g. an ID number)",
                       field_types=("text", "id_number"))})
def not_prior_winner(ctx: Context, years: int, by: str, field: str | None) -> str | None:
    """Refuse a winner of the same programme within the last ``years`` years."""
    app = ctx.application
    year = app.call.year
    query = select(Application, Call.year).join(Call, Call.id == Application.call_id).where(
        Call.programme_key == app.call.programme_key, Call.year >= year - years,
        Call.year < year, Application.id != app.id)
    if by in BY:
        query = query.where(_same(app, by))
    key = field if by == "field" and field else ""
    wanted = str((app.data or {}).get(key) or "").strip() if key else ""
    for other, won_in in db.session.execute(query.order_by(Call.year.desc())):
        if key and (not wanted or str((other.data or {}).get(key) or "").strip() != wanted):
            continue
        if programme_of(other).states.get(other.state, {}).get("outcome") == "awarded":
            who = {"applicant": zh("该申报人"), "unit": zh("该单位")}.get(by) \
                or zh("该%(label)s", label=_label(ctx, field or ''))
            return (zh("%(who)s已于 %(won_in)s 年获评（“%(title)s”），%(years)s 年内不能再次申报",
                       who=who, won_in=won_in, title=other.title, years=years))
    return None


@guard("field_at_least",
       "The number in `field` of the application form is at least `min`.",
       {"field": Param("field", required=True, field_types=("integer", "decimal")),
        "min": Param("number", required=True, help="the smallest value allowed")}, independent=True)
def field_at_least(ctx: Context, field: str, min: float) -> str | None:  # noqa: A002
    """Refuse while the field is empty or below ``min``."""
    value = (ctx.application.data or {}).get(field)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return zh("请填写“%(label)s”", label=_label(ctx, field))
    if number < Decimal(str(min)):
        return (zh("“%(label)s”至少应为 %(minimum)s（当前为 %(number)s）",
                   label=_label(ctx, field), minimum=plain_number(min),
                   number=plain_number(number)))
    return None


@guard("date_years_before",
       "The date in `field` is at least `years` years before the day of the step (e.g. a team "
       "founded at least one year before it applies).",
       {"field": Param("field", required=True, field_types=("date",)),
        "years": Param("int", required=True, minimum=1)}, independent=True)
def date_years_before(ctx: Context, field: str, years: int) -> str | None:
    """Refuse a date later than the step's day (Beijing time) ``years`` years back."""
    value = (ctx.application.data or {}).get(field)
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        return zh("请填写“%(label)s”", label=_label(ctx, field))
    today = ctx.now.astimezone(LOCAL).date()
    try:
        limit = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        limit = today.replace(year=today.year - years, day=28)
    if day > limit:
        return (zh("“%(label)s”应不晚于 %(limit)s（须满 %(years)s 年），当前为 %(day)s",
                   label=_label(ctx, field), limit=limit.isoformat(), years=years,
                   day=day.isoformat()))
    return None


@guard("has_attachment",
       "At least `min` files are attached to the file field `field` (for a file the form "
       "does not require of everyone, but this step does).",
       {"field": Param("field", required=True, field_types=("file",)),
        "min": Param("int", default=1, minimum=1)}, independent=True)
def has_attachment(ctx: Context, field: str, min: int) -> str | None:  # noqa: A002
    """Refuse until enough files are attached to ``field``."""
    count = attachment_counts(ctx.application).get(field, 0)
    if count < min:
        if min > 1:
            return zh("请上传“%(label)s”（至少 %(minimum)s 个文件）", label=_label(ctx, field),
                      minimum=min)
        return zh("请上传“%(label)s”", label=_label(ctx, field))
    return None

