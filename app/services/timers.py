"""State deadlines: when one passes, the system fires the transition the definition names.

A state's ``deadline`` (workflow definition) says when — N days or N working days after the entry
reached the state, a date, or the call's closing time — and which trigger to fire. ``run_timers``
is the tick: the ``flask workflows tick`` command (for cron) and the worker's minute job call it.
It fires each due entry in a transaction of its own, as the system (the audit row has no actor);
an entry whose guards refuse (an open objection, say) stays and is tried again at the next tick.
Ticks may run at the same moment (every worker command runs the minute job, on every machine):
the engine's conditional UPDATE lets one move an entry, and the others, finding it moved, pass
over it without calling that a refusal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from app.engine.calendar import due_at
from app.engine.errors import PingshenError
from app.engine.runtime import fire, fitting_comment
from app.extensions import db
from app.jobs import every_minute
from app.models import Application
from app.models.base import utcnow
from app.services.programmes import entries_in_states_with, programme_of

LOGGER = logging.getLogger(__name__)
SYSTEM_COMMENT = "期限已到，由系统自动执行"


@dataclass
class TimerOutcome:
    """What the tick did with one due entry."""

    application_id: int
    title: str
    trigger: str
    due: datetime
    moved: bool
    reasons: list[str] = field(default_factory=list)


def deadline_of(application: Application) -> tuple[datetime, str] | None:
    """When the entry's current state ends by itself, and the trigger fired then."""
    state = programme_of(application).states.get(application.state) or {}
    deadline = state.get("deadline")
    if not deadline:
        return None
    return (due_at(deadline, application.state_since, application.call.closes_at),
            deadline["fire"])


def run_timers(now: datetime | None = None) -> list[TimerOutcome]:
    """Fire every transition whose state's deadline has passed; commit each on its own."""
    now = now or utcnow()
    outcomes = []
    for application in entries_in_states_with("deadline"):
        found = deadline_of(application)
        if found is None or found[0] > now:
            continue
        due, trigger = found
        outcome = TimerOutcome(application.id, application.title, trigger, due, False)
        state = application.state
        try:
            fire(application, trigger, None, now=now,
                 comment=fitting_comment(application, trigger, SYSTEM_COMMENT))
            db.session.commit()
            outcome.moved = True
        except PingshenError as exc:
            db.session.rollback()
            if application.state != state:
                continue  # moved meanwhile (another worker's tick, a person): nothing refused
            outcome.reasons = list((exc.details or {}).get("reasons") or [exc.message]) \
                if isinstance(exc.details, dict) else [exc.message]
        outcomes.append(outcome)
    return outcomes


@every_minute("state_deadlines")
def tick() -> None:
    """The worker's minute job: fire what is due and log what was refused; then send the
    reminders that are due (after the moves, so an entry the deadline moved is not reminded)."""
    from app.services.reminders import run_reminders

    for outcome in run_timers():
        if outcome.moved:
            LOGGER.info("deadline: %s fired on entry %s", outcome.trigger, outcome.application_id)
        else:
            LOGGER.warning("deadline passed but %s refused on entry %s: %s", outcome.trigger,
                           outcome.application_id, "；".join(outcome.reasons))
    run_reminders()
