"""Opening calls (批次) for a programme, with dates and district quotas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Call, CallQuota, Organisation, OrgKind, User
from app.services.programmes import current_programme, record_version


def open_call(programme_key: str, title: str, year: int, opens_at: datetime,
              closes_at: datetime, quotas: dict[str, int], actor: User | None,
              description: str = "", minimums: dict[str, int] | None = None) -> Call:
    """Create a call; quotas map district codes to the number of entries each may recommend,
    minimums to the number each must recommend at least."""
    minimums = minimums or {}
    programme = current_programme(programme_key)
    record_version(programme)
    errors = {}
    if not title.strip():
        errors["title"] = zh("请填写批次名称")
    if closes_at <= opens_at:
        errors["closes_at"] = zh("截止时间必须晚于开始时间")
    if not 2000 <= year <= 2100:
        errors["year"] = zh("年度不正确")
    districts = {d.code: d for d in db.session.scalars(
        select(Organisation).where(Organisation.kind == OrgKind.DISTRICT))}
    for code, quota in quotas.items():
        if code not in districts:
            errors[f"quotas.{code}"] = zh("没有代码为 %(code)s 的区", code=code)
        elif not isinstance(quota, int) or isinstance(quota, bool) or quota < 0:
            errors[f"quotas.{code}"] = zh("名额应为不小于 0 的整数")
    for code, minimum in minimums.items():
        if code not in districts:
            errors[f"minimums.{code}"] = zh("没有代码为 %(code)s 的区", code=code)
        elif not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
            errors[f"minimums.{code}"] = zh("最少推荐数应为不小于 1 的整数")
        elif quotas.get(code) is not None and minimum > quotas[code]:
            errors[f"minimums.{code}"] = zh("最少推荐数不能大于名额（%(quotas)s）",
                                            quotas=quotas[code])
    if errors:
        raise ValidationFailed(zh("批次信息有误"), errors)
    call = Call(programme_key=programme.key, title=title.strip(), year=year, opens_at=opens_at,
                closes_at=closes_at, created_by=actor, description=description)
    call.quotas = [CallQuota(district=districts[code], quota=quotas.get(code),
                             minimum=minimums.get(code))
                   for code in sorted(set(quotas) | set(minimums))]
    db.session.add(call)
    db.session.flush()
    return call


def open_calls(now: datetime) -> list[Call]:
    """Calls accepting applications at `now`, closing soonest first."""
    return list(db.session.scalars(select(Call).where(
        Call.opens_at <= now, Call.closes_at > now).order_by(Call.closes_at)))
