"""Award proposals: levels from the final ranking as the definition says, confirmed by the city.

A proposal is computed from the call's ranking (`rank_call`) and the workflow's
`reviews.awards` block, stored with its settings and a fingerprint of what it was computed from,
and confirmed by a city administrator — as proposed, or with named changes and a reason. Only
confirming writes each entry's award; confirming refuses a proposal whose ranking has changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import Application, AwardProposal, Call, Role, User
from app.models.base import utcnow
from app.review.aggregate import canonical_decimal
from app.review.ranking import Level, award_levels
from app.services.programmes import current_programme, programme_of, record_version
from app.services.ranking import Ranking, rank_call


def _require_city(actor: User) -> None:
    """Awards are decided by the city."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以评定奖项"))


def _group(application: Application, group_by: str | None) -> str | None:
    """The entry's group for proportions and caps: its district, or a choice field's value."""
    if group_by is None:
        return None
    if group_by == "district":
        return application.district.code if application.district else None
    value = (application.data or {}).get(group_by.split(":", 1)[1])
    return str(value) if value not in (None, "") else None


def _computed(call: Call) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """Rows, settings and fingerprint of a proposal for the call as it stands now."""
    programme = current_programme(call.programme_key)
    awards = programme.workflow["reviews"]["awards"]
    if awards is None:
        raise Conflict(zh("该项目没有定义奖项等级（reviews.awards）"))
    ranking = rank_call(call, awards.get("basis", "final"))
    if not ranking.ranked:
        raise Conflict(zh("还没有可以评奖的最终得分"))
    groups = {row.application.id: _group(row.application, awards["group_by"])
              for row in ranking.rows}
    levels = [Level(lv["name"], *(None if lv[k] is None else Decimal(lv[k])
                                  for k in ("proportion", "threshold")))
              for lv in awards["levels"]]
    ranked = [dataclasses.replace(row.place, group=groups[row.application.id])
              for row in ranking.ranked if row.place is not None]
    caps = {g: awards["cap"] for g in set(groups.values()) if g is not None} \
        if awards["cap"] is not None else {}
    proposals = {p.entry: p for p in award_levels(ranked, levels, awards["per_group"], caps)}
    rows = [_row(row.application, row.place.position if row.place else None, row.final,
                 groups[row.application.id], proposals.get(row.application.id))
            for row in ranking.rows]
    settings = _settings(awards, ranking)
    return rows, settings, _fingerprint(rows, settings)


def _row(application: Application, position: int | None, score: Decimal | None,
         group: str | None, proposal: Any) -> dict[str, Any]:
    """One entry of a proposal."""
    return {"entry": application.id, "title": application.title, "position": position,
            "score": None if score is None else canonical_decimal(score), "group": group,
            "level": proposal.level if proposal else None,
            "reason": proposal.reason if proposal else "incomplete",
            "held_back": proposal.held_back if proposal else None}


def _settings(awards: dict[str, Any], ranking: Ranking) -> dict[str, Any]:
    """What the proposal was computed with: award rules, round weights and results, tie-breaks."""
    return {"awards": awards, "tie_break": ranking.tie_break,
            "rounds": [{"name": c.round.name, "weight": str(c.round.weight), "closed": c.closed,
                        "result_id": c.result_id} for c in ranking.columns]}


def _fingerprint(rows: list[dict[str, Any]], settings: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the rows and the settings."""
    text = json.dumps({"rows": rows, "settings": settings}, sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def propose_awards(call: Call, actor: User) -> AwardProposal:
    """Compute and store a proposal from the current ranking; older open ones are superseded."""
    _require_city(actor)
    rows, settings, fingerprint = _computed(call)
    for older in db.session.scalars(select(AwardProposal).filter_by(call_id=call.id,
                                                                    status="proposed")):
        older.status = "superseded"
    proposal = AwardProposal(
        call_id=call.id, programme_version_id=record_version(
            current_programme(call.programme_key)).id,
        settings=settings, rows=rows, fingerprint=fingerprint, created_by_id=actor.id)
    db.session.add(proposal)
    db.session.flush()
    return proposal


def confirm_proposal(proposal: AwardProposal, actor: User,
                     changes: dict[int, str | None] | None = None,
                     note: str = "") -> AwardProposal:
    """Confirm a proposal (with changed levels, if a reason is given); write each entry's award."""
    _require_city(actor)
    if proposal.status != "proposed":
        raise Conflict(zh("该奖项建议已确认或已被新的建议取代"))
    call = db.session.get_one(Call, proposal.call_id)
    _rows, _settings_now, fingerprint = _computed(call)
    if fingerprint != proposal.fingerprint:
        raise Conflict(zh("排名在建议生成后发生了变化，请重新生成奖项建议"))
    changes, note = changes or {}, note.strip()
    names = {lv["name"] for lv in proposal.settings["awards"]["levels"]}
    by_entry = {row["entry"]: row for row in proposal.rows}
    errors = {str(e): zh("不在本建议中") for e in changes if e not in by_entry}
    errors |= {str(e): zh("没有这个奖项等级：%(level)s",
                          level=level) for e, level in changes.items()
               if level is not None and level not in names}
    if changes and not note:
        errors["note"] = zh("调整奖项时请说明理由")
    if len(note) > 1000:
        errors["note"] = zh("说明不能超过 1000 字")
    if errors:
        raise ValidationFailed(zh("奖项调整有误"), errors)
    rows = []
    for row in proposal.rows:
        if row["entry"] in changes and changes[row["entry"]] != row["level"]:
            row = {**row, "proposed": row["level"], "level": changes[row["entry"]],
                   "reason": "changed"}
        rows.append(row)
    entries = {a.id: a for a in db.session.scalars(
        select(Application).where(Application.id.in_(by_entry)))}
    for i, row in enumerate(rows):
        entry = entries[row["entry"]]
        applied = awaits_award(entry)
        if applied:
            entry.award = row["level"]
        rows[i] = {**row, "applied": applied}
    for older in db.session.scalars(select(AwardProposal).filter_by(call_id=call.id,
                                                                    status="confirmed")):
        older.status = "superseded"
    proposal.rows, proposal.note = rows, note
    proposal.status, proposal.confirmed_at, proposal.confirmed_by_id = \
        "confirmed", utcnow(), actor.id
    db.session.flush()
    return proposal


def awaits_award(application: Application) -> bool:
    """Whether the entry stands where its award is decided: not finished, and a step leaving its
    state is guarded by ``award_confirmed`` (when the programme has such a step at all). Entries
    that moved on (named, re-inspected, finished) keep the award they were decided with when the
    call's awards are confirmed again later."""
    programme = programme_of(application)
    if programme.is_final(application.state):
        return False

    def decides(transitions: list[dict[str, Any]]) -> bool:
        return any(ref["name"] == "award_confirmed" for t in transitions for ref in t["guards"])

    # a programme that never waits for the award (no such guard) takes it wherever the entry is
    return decides(programme.transitions_from(application.state)) \
        or not decides(programme.transitions)


def level_counts(proposal: AwardProposal) -> dict[str, int]:
    """How many entries each level holds, in the definition's order."""
    counts = {lv["name"]: 0 for lv in proposal.settings["awards"]["levels"]}
    for row in proposal.rows:
        if row["level"] in counts:
            counts[row["level"]] += 1
    return counts


def is_stale(proposal: AwardProposal) -> bool:
    """Whether the ranking has changed since the proposal was computed."""
    call = db.session.get_one(Call, proposal.call_id)
    try:
        _rows, _settings, fingerprint = _computed(call)
    except Conflict:  # no award rules or no final score any more
        return True
    return fingerprint != proposal.fingerprint
