"""Where the review of a call stands: per expert and per entry, with declared conflicts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from app.extensions import db
from app.models import Application, Call, ReviewAssignment, User

STAGES = ("unconfirmed", "assigned", "draft", "submitted", "conflict", "withdrawn")
OPEN_STAGES = {"unconfirmed", "assigned", "draft"}


@dataclass
class Progress:
    """Counts of sheets by stage, for one expert or one entry."""

    counts: Counter[str] = field(default_factory=Counter)

    @property
    def active(self) -> int:
        """Sheets still part of a panel (declared conflicts excluded)."""
        return sum(n for stage, n in self.counts.items()
                   if stage not in ("conflict", "withdrawn", "overdue"))

    @property
    def submitted(self) -> int:
        """Sheets submitted."""
        return self.counts["submitted"]


def review_progress(call: Call, round_name: str | None = None,
                    overdue: bool = False) -> tuple[dict[User, Progress],
                                                    dict[Application, Progress]]:
    """The call's sheets (of one round, if named), counted by stage per expert and per entry.

    With `overdue` (the round's deadline has passed), open sheets are counted as "overdue" too.
    """
    by_expert: dict[User, Progress] = {}
    by_entry: dict[Application, Progress] = {}
    query = (select(ReviewAssignment, Application)
             .join(Application, Application.id == ReviewAssignment.application_id)
             .where(Application.call_id == call.id)
             .order_by(Application.id, ReviewAssignment.id))
    if round_name is not None:
        query = query.where(ReviewAssignment.round == round_name)
    for sheet, application in db.session.execute(query).all():
        stage = _stage(sheet)
        for progress in (by_expert.setdefault(sheet.expert, Progress()),
                         by_entry.setdefault(application, Progress())):
            progress.counts[stage] += 1
            if overdue and stage in OPEN_STAGES:
                progress.counts["overdue"] += 1
    return by_expert, by_entry


def _stage(sheet: ReviewAssignment) -> str:
    """One word for where a sheet stands."""
    if sheet.status == "assigned" and sheet.conflict_checked_at is None:
        return "unconfirmed"
    return sheet.status
