"""Review rounds of a call, stored results, the ranking and award proposals (city only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import request

from app.blueprints.api.common import (
    MalformedRequest,
    bp,
    get_or_404,
    json_body,
    require_role,
    viewable_application,
)
from app.blueprints.api.serializers import JSON, iso, number
from app.engine.errors import ValidationFailed
from app.extensions import db
from app.i18n import zh
from app.models import AwardProposal, Call, ReviewResult, Role
from app.review.aggregate import EntryResult, settings_as_dict
from app.services import awards
from app.services import rounds as service
from app.services.exports import ranking_xlsx, review_sheets_xlsx
from app.services.programmes import current_programme, programme_of
from app.services.ranking import RankingRow, rank_call
from app.services.rounds import RoundStatus, result_version, round_status
from app.web.downloads import xlsx_response

LOCAL = ZoneInfo("Asia/Shanghai")


@bp.get("/calls/<int:call_id>/ranking")
def call_ranking(call_id: int) -> Any:
    """Entries ranked by their final (weighted) score, then the incomplete ones."""
    require_role(Role.CITY_ADMIN)
    ranking = rank_call(get_or_404(Call, call_id, zh("批次不存在")))
    return [ranking_json(row) for row in ranking.rows]


@bp.get("/calls/<int:call_id>/rounds")
def list_rounds(call_id: int) -> Any:
    """The call's review rounds: weights, settings, deadline, progress and whether closed."""
    require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    names = list(current_programme(call.programme_key).rounds)
    return [round_json(round_status(call, name)) for name in names]


@bp.get("/calls/<int:call_id>/rounds/<name>")
def get_round(call_id: int, name: str) -> Any:
    """One round with each entry's sheets and what still holds the round open."""
    require_role(Role.CITY_ADMIN)
    status = round_status(get_or_404(Call, call_id, zh("批次不存在")), name)
    return round_json(status, entries=True)


@bp.put("/calls/<int:call_id>/rounds/<name>")
def put_round(call_id: int, name: str) -> Any:
    """Set the round's deadline (ISO 8601; without an offset, Beijing time); null clears it."""
    user = require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    body = json_body({}, {"deadline": "string"})
    if "deadline" not in (request.get_json(silent=True) or {}):
        raise MalformedRequest(zh("请求缺少 deadline（清除截止时间请传 null）"),
                               {"deadline": zh("此项为必填项")})
    service.set_deadline(call, name, _moment(body.get("deadline")), user)
    db.session.commit()
    return round_json(round_status(call, name))


@bp.post("/calls/<int:call_id>/rounds/<name>/close")
def close_round(call_id: int, name: str) -> Any:
    """Close the round: its result is computed, stored with its inputs and released."""
    user = require_role(Role.CITY_ADMIN)
    result = service.close_round(get_or_404(Call, call_id, zh("批次不存在")), name, user)
    db.session.commit()
    return result_json(result), 201


@bp.post("/calls/<int:call_id>/rounds/<name>/reopen")
def reopen_round(call_id: int, name: str) -> Any:
    """Open a closed round again; the result stored when it closed stays on record."""
    user = require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    service.reopen_round(call, name, user)
    db.session.commit()
    return round_json(round_status(call, name))


@bp.get("/results/<int:result_id>")
def get_result(result_id: int) -> Any:
    """A stored result: settings, input sheets, entry results and fingerprint."""
    require_role(Role.CITY_ADMIN)
    return result_json(get_or_404(ReviewResult, result_id, zh("评审结果不存在")), inputs=True)


@bp.post("/results/<int:result_id>/verify")
def verify_result(result_id: int) -> Any:
    """Compute a stored result again from what it stored, and say whether it is the same."""
    require_role(Role.CITY_ADMIN)
    check = service.verify_result(get_or_404(ReviewResult, result_id, zh("评审结果不存在")))
    return {"result_id": result_id, "same": check.ok,
            "fingerprint_matches": check.fingerprint_matches,
            "results_match": check.results_match, "differences": check.differences}


@bp.post("/applications/<int:application_id>/dispersion-waiver")
def waive_dispersion(application_id: int) -> Any:
    """Record why an entry whose sheets spread too far gets no extra expert in a round."""
    user = require_role(Role.CITY_ADMIN)
    application = viewable_application(application_id)
    body = json_body({"round": "string", "reason": "string"})
    waiver = service.waive_dispersion(application, body["round"], user, body["reason"])
    db.session.commit()
    return {"id": waiver.id, "application_id": application.id, "round": waiver.round,
            "reason": waiver.reason, "created_by": user.username,
            "created_at": iso(waiver.created_at)}, 201


def _moment(value: str | None) -> datetime | None:
    """An ISO 8601 time; a time without an offset is Beijing time."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(zh("时间格式不正确"), {
            "deadline": zh("应为 ISO 8601 时间，例如 2026-05-20T17:00:00+08:00")}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL)


def entry_result_json(result: EntryResult) -> JSON:
    """An entry's result in one round, and how it was reached."""
    return {"score": number(result.score), "raw_score": number(result.raw_score),
            "sheets": result.n, "method": result.method_used,
            "fallback_used": result.fallback_used, "normalised": result.normalised,
            "spread": number(result.spread), "dispersion_flagged": result.flagged_dispersion,
            "vetoed": result.vetoed, "dropped": list(result.dropped)}


def ranking_json(row: RankingRow) -> JSON:
    """One line of a call's ranking: the place, the final score and each round's result."""
    application, place = row.application, row.place
    return {"rank": place.position if place else None, "score": number(row.final),
            "tied_with": list(place.tied_with) if place else [],
            "vetoed": bool(place and place.vetoed)
            or any(r.vetoed for r in row.rounds.values()),
            "decided_by": place.decided_by if place else None,
            "dispersion_flagged": row.flagged, "missing_rounds": list(row.missing),
            "rounds": {name: entry_result_json(r) for name, r in row.rounds.items()},
            "application": {"id": application.id, "title": application.title,
                            "state": application.state,
                            "state_label": programme_of(application).label(application.state),
                            "district": application.district.code if application.district
                            else None}}


def round_json(status: RoundStatus, entries: bool = False) -> JSON:
    """A round of a call: its definition, deadline, progress and what still holds it open."""
    review_round, record = status.round, status.record
    in_round = [e for e in status.entries if e.in_round]
    data: JSON = {
        "name": review_round.name, "label": review_round.label,
        "rubric": review_round.rubric.raw["key"], "weight": str(review_round.weight),
        "blind": review_round.blind, "quorum": review_round.quorum, "live": review_round.live,
        "aggregation": settings_as_dict(status.settings),
        "deadline": iso(status.deadline), "overdue": status.overdue, "closed": status.closed,
        "closed_at": iso(record.closed_at) if record else None,
        "result_id": record.result_id if record and status.closed else None,
        "entries_in_round": len(in_round),
        "entries_complete": sum(1 for e in in_round if e.complete),
        "blockers": [] if status.closed else status.blockers,
    }
    if entries:
        data["entries"] = [{
            "application_id": e.application.id, "title": e.application.title,
            "state": e.application.state, "in_round": e.in_round, "submitted": e.submitted,
            "pending": e.pending, "needed": e.needed, "complete": e.complete,
            "score": number(e.result.score) if e.result else None,
            "spread": number(e.result.spread) if e.result else None,
            "dispersion_flagged": bool(e.result and e.result.flagged_dispersion),
            "dispersion_open": e.dispersion_open, "extra_submitted": e.extra_submitted,
            "waiver": e.waiver.reason if e.waiver else None} for e in status.entries]
    return data


def result_json(result: ReviewResult, inputs: bool = False) -> JSON:
    """A stored round result; with `inputs`, the sheets it was computed from."""
    version = result_version(result)
    data: JSON = {"id": result.id, "call_id": result.call_id, "round": result.round,
                  "programme": version.key, "version": version.version,
                  "checksum": version.checksum, "settings": result.settings,
                  "fingerprint": result.fingerprint, "computed_at": iso(result.computed_at),
                  "computed_by": result.computed_by.username if result.computed_by else None,
                  "results": result.results}
    if inputs:
        data["inputs"] = result.inputs
    return data


@bp.post("/calls/<int:call_id>/award-proposals")
def propose_awards(call_id: int) -> Any:
    """Propose award levels from the call's current ranking (the definition's reviews.awards)."""
    user = require_role(Role.CITY_ADMIN)
    proposal = awards.propose_awards(get_or_404(Call, call_id, zh("批次不存在")), user)
    db.session.commit()
    return proposal_json(proposal), 201


@bp.get("/award-proposals/<int:proposal_id>")
def get_award_proposal(proposal_id: int) -> Any:
    """An award proposal with each entry's proposed level and why."""
    require_role(Role.CITY_ADMIN)
    return proposal_json(get_or_404(AwardProposal, proposal_id, zh("奖项建议不存在")))


@bp.post("/award-proposals/<int:proposal_id>/confirm")
def confirm_award_proposal(proposal_id: int) -> Any:
    """Confirm a proposal, optionally changing levels ({application id: level or null}) + note."""
    user = require_role(Role.CITY_ADMIN)
    proposal = get_or_404(AwardProposal, proposal_id, zh("奖项建议不存在"))
    body = json_body({}, {"changes": "object", "note": "string"})
    changes: dict[int, str | None] = {}
    proposed = {row["entry"]: row["level"] for row in proposal.rows}
    for key, level in (body.get("changes") or {}).items():
        if not str(key).isdigit() or not (level is None or isinstance(level, str)):
            raise ValidationFailed(zh("changes 应为 {申报 id: 奖项等级或 null}"),
                                   {"changes": str(key)})
        if proposed.get(int(key), "") != level:  # a "change" to the proposed level is none
            changes[int(key)] = level
    awards.confirm_proposal(proposal, user, changes, body.get("note", ""))
    db.session.commit()
    return proposal_json(proposal)


def proposal_json(proposal: AwardProposal) -> JSON:
    """An award proposal as stored."""
    return {"id": proposal.id, "call_id": proposal.call_id, "status": proposal.status,
            "settings": proposal.settings, "rows": proposal.rows,
            "counts": awards.level_counts(proposal), "fingerprint": proposal.fingerprint,
            "created_at": iso(proposal.created_at), "created_by": proposal.created_by.username,
            "confirmed_at": iso(proposal.confirmed_at),
            "confirmed_by": proposal.confirmed_by.username if proposal.confirmed_by else None,
            "note": proposal.note}


@bp.get("/calls/<int:call_id>/review-sheets.xlsx")
def export_review_sheets(call_id: int) -> Any:
    """Every score sheet of the call and each round's results, as an Excel workbook."""
    require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    return xlsx_response(review_sheets_xlsx(call), f"{call.title}-评分明细.xlsx")


@bp.get("/calls/<int:call_id>/ranking.xlsx")
def export_ranking(call_id: int) -> Any:
    """The call's ranking, as an Excel workbook."""
    require_role(Role.CITY_ADMIN)
    call = get_or_404(Call, call_id, zh("批次不存在"))
    return xlsx_response(ranking_xlsx(call), f"{call.title}-排名.xlsx")
