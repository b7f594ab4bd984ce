"""A call's ranking: each round's scores (frozen when closed), weighted into a final score.

Closed rounds contribute their stored result (and its stored sheets to the tie-breaks); open
rounds are computed live from the submitted sheets and marked provisional. Entries missing from
a round of positive weight get no final score and are listed apart; an entry vetoed in any round
comes last, unranked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.engine.definitions import ReviewRound
from app.extensions import db
from app.models import Application, Call, CallRound
from app.review.aggregate import (
    AggregationSettings,
    EntryResult,
    Sheet,
    aggregate_round,
    sheet_from_dict,
)
from app.review.ranking import Ranked, RankInput, combine_rounds, incomplete_entries, rank
from app.services.programmes import current_programme
from app.services.rounds import round_sheets, settings_for, stored_results


@dataclass(frozen=True)
class RoundColumn:
    """A round as the ranking shows it: where its scores come from and how they were made."""

    round: ReviewRound
    settings: AggregationSettings
    closed: bool
    result_id: int | None  # the stored result used, when the round is closed


@dataclass(frozen=True)
class RankingRow:
    """One entry: its place (None when incomplete), final score and each round's result."""

    application: Application
    place: Ranked | None
    final: Decimal | None
    rounds: dict[str, EntryResult]
    missing: tuple[str, ...]  # rounds of positive weight the entry has no score in

    @property
    def flagged(self) -> bool:
        """Any round's sheets spread more than its threshold."""
        return any(r.flagged_dispersion for r in self.rounds.values())


@dataclass(frozen=True)
class Ranking:
    """The ranked entries, then the incomplete ones, and the rounds behind them."""

    rows: list[RankingRow]
    columns: list[RoundColumn]
    tie_break: list[str]

    @property
    def ranked(self) -> list[RankingRow]:
        """Entries with a final score (vetoed ones last)."""
        return [row for row in self.rows if row.place is not None]

    @property
    def incomplete(self) -> list[RankingRow]:
        """Entries without a score in every weighted round."""
        return [row for row in self.rows if row.place is None]


def rank_call(call: Call, basis: str = "final") -> Ranking:
    """Rank the call's entries by the programme's rounds, weights and tie-break chain; with
    ``basis`` ``round:<state>``, by that round's score alone (e.g. the grade of an acceptance
    round that does not count in the final score)."""
    programme = current_programme(call.programme_key)
    tie_break = list(programme.workflow["reviews"]["tie_break"])
    records = {r.round: r for r in db.session.scalars(
        select(CallRound).where(CallRound.call_id == call.id))}
    columns, by_round, all_sheets = [], {}, []
    for review_round in programme.rounds.values():
        record = records.get(review_round.name)
        if record is not None and record.closed and record.result is not None:
            # a closed round is what it stored: its results, and the sheets behind them
            results = stored_results(record.result)
            all_sheets += [sheet_from_dict(row) for row in record.result.inputs["sheets"]]
        else:
            sheets = round_sheets(call, review_round.name)
            all_sheets += sheets
            results = {r.entry: r for r in aggregate_round(sheets, settings_for(review_round))}
        by_round[review_round.name] = results
        columns.append(RoundColumn(review_round, settings_for(review_round),
                                   record is not None and record.closed,
                                   record.result_id if record is not None and record.closed
                                   else None))
    entries = {e for results in by_round.values() for e in results}
    if not entries:
        return Ranking([], columns, tie_break)
    applications = {a.id: a for a in db.session.scalars(
        select(Application).where(Application.id.in_(entries))
        .options(joinedload(Application.org), joinedload(Application.district)))}
    scores = {name: {e: r.score for e, r in results.items()} for name, results in by_round.items()}
    weights = {c.round.name: c.round.weight for c in columns}
    if basis != "final":
        weights = {basis.split(":", 1)[1]: Decimal(1)}
        entries = set(by_round[basis.split(":", 1)[1]])
        scores = {name: scores[name] for name in weights}
        if not entries:
            return Ranking([], columns, tie_break)
    final = combine_rounds(scores, weights)
    missing = incomplete_entries(scores, weights)
    vetoed = {e for name, results in by_round.items() for e, r in results.items()
              if r.vetoed and (basis == "final" or basis == f"round:{name}")}
    points = _criterion_points(all_sheets, tie_break)
    places = rank([RankInput(entry, score, entry in vetoed,
                             _tie_values(entry, by_round, points.get(entry, {}),
                                         applications[entry], tie_break))
                   for entry, score in final.items()], tie_break)
    rows = [RankingRow(applications[p.entry], p, final[p.entry], _rounds_of(p.entry, by_round),
                       ()) for p in places]
    rows += [RankingRow(applications[e], None, None, _rounds_of(e, by_round), missing[e])
             for e in sorted(missing)]
    return Ranking(rows, columns, tie_break)


def _rounds_of(entry: int, by_round: dict[str, dict[int, EntryResult]]) -> dict[str, EntryResult]:
    """The entry's result in each round it has one in."""
    return {name: results[entry] for name, results in by_round.items() if entry in results}


def _criterion_points(sheets: list[Sheet], tie_break: list[str]
                      ) -> dict[int, dict[str, list[Decimal]]]:
    """Each entry's points per criterion the tie-break chain names, grouped in one pass."""
    wanted = {key.partition(":")[2] for key in tie_break if key.startswith("criterion:")}
    points: dict[int, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    if wanted:
        for sheet in sheets:
            for key in wanted & sheet.criteria.keys():
                points[sheet.entry][key].append(sheet.criteria[key])
    return points


def _tie_values(entry: int, by_round: dict[str, dict[int, EntryResult]],
                points: dict[str, list[Decimal]], application: Application,
                tie_break: list[str]) -> dict[str, Decimal | datetime]:
    """What the tie-break chain compares: round scores, criterion means, the submission time."""
    values: dict[str, Decimal | datetime] = {}
    if application.submitted_at is not None:
        values["submitted_at"] = application.submitted_at
    for key in tie_break:
        kind, _, name = key.partition(":")
        if kind == "round" and entry in by_round.get(name, {}):
            values[key] = by_round[name][entry].score
        elif kind == "criterion" and points.get(name):
            values[key] = sum(points[name], Decimal(0)) / len(points[name])
    return values
