"""The district summary table (汇总表) of a call and its public-notice list (公示名单), as .xlsx.

The summary is what a bureau pastes into its report: one row per district with the entries
submitted, recommended (counted against the quota, as the district's quota page counts them),
the quota and minimum, the entries in each state, the award levels confirmed, and a total row.
A district administrator gets their own district's row only. The notice list holds exactly the
rows and columns of the public notice page for this call, one worksheet per notice stage.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.engine.definitions import Programme
from app.engine.errors import Conflict
from app.extensions import db
from app.i18n import zh
from app.models import Application, Call, Organisation, OrgKind, Role, User
from app.services.application_export import require_administrator
from app.services.dashboards import quota_states
from app.services.objections import notices
from app.services.programmes import current_programme
from app.services.workbooks import Table, tables_xlsx

NO_DISTRICT = "（未归属区）"


@dataclass(frozen=True)
class SummaryCounts:
    """A call's submitted entries counted per district: by state and by award level."""

    states: Counter[tuple[int | None, str]]
    awards: Counter[tuple[int | None, str]]


def district_summary_xlsx(call: Call, viewer: User) -> bytes:
    """The summary table of ``call`` as ``viewer`` may see it, as .xlsx bytes."""
    require_administrator(viewer)
    return tables_xlsx(call.title, [summary_table(call, viewer)])


def summary_table(call: Call, viewer: User) -> Table:
    """One row per district (the viewer's own, for a district administrator), then 合计."""
    programme = current_programme(call.programme_key)
    own = viewer.district_id if viewer.role == Role.DISTRICT_ADMIN else None
    counts = _counts(call, own)
    districts = _districts(counts, own)
    states = [s for s in programme.states if any(state == s for _d, state in counts.states)]
    states += sorted({state for _d, state in counts.states} - set(states))
    levels = _levels(programme, counts)
    recommended = quota_states(programme)
    headers = ["所属区", "申报数", "推荐数", "推荐名额", "最低推荐数",
               *(programme.label(s) for s in states), *levels,
               *(["获奖合计"] if levels else [])]
    rows = []
    for district_id, name in districts:
        by_state = [counts.states[(district_id, s)] for s in states]
        by_award = [counts.awards[(district_id, level)] for level in levels]
        rows.append([name, sum(by_state),
                     sum(counts.states[(district_id, s)] for s in recommended),
                     call.quota_for(district_id), call.minimum_for(district_id),
                     *by_state, *by_award, *([sum(by_award)] if levels else [])])
    if not own:
        rows.append(["合计", *(_total(rows, index) for index in range(1, len(headers)))])
    return Table("汇总表", headers, rows)


def _counts(call: Call, district_id: int | None) -> SummaryCounts:
    """Submitted entries (drafts stay private) by district and state, and by award."""
    submitted = [Application.call_id == call.id, Application.submitted_at.is_not(None)]
    if district_id is not None:
        submitted.append(Application.district_id == district_id)
    states = Counter({(d, s): n for d, s, n in db.session.execute(
        select(Application.district_id, Application.state, func.count()).where(*submitted)
        .group_by(Application.district_id, Application.state))})
    awards = Counter({(d, str(a)): n for d, a, n in db.session.execute(
        select(Application.district_id, Application.award, func.count())
        .where(*submitted, Application.award.is_not(None))
        .group_by(Application.district_id, Application.award))})
    return SummaryCounts(states, awards)


def _districts(counts: SummaryCounts, own: int | None) -> list[tuple[int | None, str]]:
    """Every district by code (the viewer's own only, for a district administrator), and a
    row for entries without a district when there are any."""
    query = select(Organisation.id, Organisation.name).where(
        Organisation.kind == OrgKind.DISTRICT).order_by(Organisation.code)
    if own is not None:
        query = query.where(Organisation.id == own)
    rows: list[tuple[int | None, str]] = [(i, n) for i, n in db.session.execute(query)]
    if own is None and any(d is None for d, _s in counts.states):
        rows.append((None, NO_DISTRICT))
    return rows


def _levels(programme: Programme, counts: SummaryCounts) -> list[str]:
    """The programme's award levels (highest first), then any other level entries hold."""
    awards = programme.workflow["reviews"].get("awards") or {}
    levels = [str(level["name"]) for level in awards.get("levels", [])]
    return levels + sorted({a for _d, a in counts.awards} - set(levels))


def _total(rows: list[list[Any]], index: int) -> int | None:
    """The sum of a column (quotas left unset count as nothing; all unset: blank)."""
    values = [row[index] for row in rows if row[index] is not None]
    return sum(values) if values else None


def notice_xlsx(call: Call, viewer: User) -> bytes:
    """The call's entries in public notice, as the public page lists them."""
    require_administrator(viewer)
    groups = [group for group in notices() if group.call.id == call.id]
    if not groups:
        raise Conflict(zh("本批次目前没有公示中的申报"))
    return tables_xlsx(call.title, [Table(
        group.label, [*(label for _key, label in group.columns), "单位"],
        [[*(_shown(group.value(entry, key)) for key, _label in group.columns), entry.org.name]
         for entry in group.entries]) for group in groups])


def _shown(value: object) -> object:
    """A notice value as the page shows it: blank for nothing, several values joined."""
    if value is None or value == "":
        return None
    return "、".join(map(str, value)) if isinstance(value, list) else value
