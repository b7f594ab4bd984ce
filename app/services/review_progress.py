"""Where the review of a call stands: per expert and per entry, with declared conflicts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from app.extensions import db
from app.models import Application, Call, ReviewAssignment, User

STAGES = ("unconfirmed", "assigned", "draft", "submitted", "conflict")


@dataclass
class Progress:
    """Counts of sheets by stage, for one expert or one entry."""

    counts: Counter[str] = field(default_factory=Counter)

    @property
    def active(self) -> int:
        """Sheets still part of a panel (declared conflicts excluded)."""
        return sum(n for stage, n in self.counts.items() if stage != "conflict")

    @property
    def submitted(self) -> int:
        """Sheets submitted."""
        return self.counts["submitted"]


def review_progress(call: Call) -> tuple[dict[User, Progress], dict[Application, Progress]]:
    """Every sheet of the call, counted by stage per expert and per entry."""
    by_expert: dict[User, Progress] = {}
    by_entry: dict[Application, Progress] = {}
    rows = db.session.execute(
        select(ReviewAssignment, Application)
        .join(Application, Application.id == ReviewAssignment.application_id)
        .where(Application.call_id == call.id)
        .order_by(Application.id, ReviewAssignment.id)).all()
    for sheet, application in rows:
        stage = _stage(sheet)
        by_expert.setdefault(sheet.expert, Progress()).counts[stage] += 1
        by_entry.setdefault(application, Progress()).counts[stage] += 1
    return by_expert, by_entry


def _stage(sheet: ReviewAssignment) -> str:
    """One word for where a sheet stands."""
    if sheet.status == "assigned" and sheet.conflict_checked_at is None:
        return "unconfirmed"
    return sheet.status
