"""A call's ranking: the definition's aggregation over submitted sheets, then its tie-breaks."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app.engine.review_settings import aggregation_input
from app.extensions import db
from app.models import Application, Call, ReviewAssignment
from app.review.aggregate import AggregationSettings, EntryResult, Sheet, aggregate_round
from app.review.ranking import Ranked, RankInput, rank
from app.services.programmes import current_programme


@dataclass(frozen=True)
class RankingRow:
    """One entry's place, its aggregated result and the entry itself."""

    application: Application
    place: Ranked
    result: EntryResult


def rank_call(call: Call) -> tuple[list[RankingRow], AggregationSettings]:
    """Rank the call's entries that have submitted sheets, as the programme's settings say."""
    reviews = current_programme(call.programme_key).workflow["reviews"]
    settings = AggregationSettings.from_dict(aggregation_input(reviews["aggregation"]))
    rows = db.session.execute(
        select(ReviewAssignment, Application)
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(Application.call_id == call.id, ReviewAssignment.status == "submitted")
        .order_by(ReviewAssignment.id)).all()
    if not rows:
        return [], settings
    entries = {application.id: application for _sheet, application in rows}
    sheets = [Sheet(expert=sheet.expert.username, entry=sheet.application_id,
                    total=Decimal(str(sheet.total)),
                    criteria={k: Decimal(str(v)) for k, v in (sheet.scores or {}).items()},
                    vetoed=bool(sheet.vetoes), submitted_at=sheet.submitted_at)
              for sheet, _application in rows]
    results = {r.entry: r for r in aggregate_round(sheets, settings)}
    places = rank([RankInput(entry, results[entry].score, results[entry].vetoed,
                             _tie_values(entry, sheets, entries[entry], reviews["tie_break"]))
                   for entry in results], reviews["tie_break"])
    return [RankingRow(entries[p.entry], p, results[p.entry]) for p in places], settings


def _tie_values(entry: int, sheets: list[Sheet], application: Application,
                tie_break: list[str]) -> dict[str, Decimal | datetime]:
    """The values the tie-break chain compares: criterion means and the submission time."""
    values: dict[str, Decimal | datetime] = {}
    if application.submitted_at is not None:
        values["submitted_at"] = application.submitted_at
    points: dict[str, list[Decimal]] = defaultdict(list)
    for sheet in sheets:
        if sheet.entry == entry:
            for key, value in sheet.criteria.items():
                points[key].append(value)
    for key in tie_break:
        if key.startswith("criterion:") and points.get(key.split(":", 1)[1]):
            found = points[key.split(":", 1)[1]]
            values[key] = sum(found, Decimal(0)) / len(found)
    return values
