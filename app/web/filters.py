"""Template filters and globals: local times, state labels, localised definition labels."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import get_locale
from markupsafe import Markup

from app.i18n import english, localised, round_label

LOCAL = ZoneInfo("Asia/Shanghai")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Show a UTC timestamp in Beijing time."""
    if value is None:
        return ""
    return value.astimezone(LOCAL).strftime(fmt)


def local_date(value: date | datetime | None) -> str:
    """Show a date as 2026年6月8日 (8 June 2026 for English readers)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL).date()
    if english():
        return f"{value.day} {value:%B} {value.year}"
    return f"{value.year}年{value.month}月{value.day}日"


def state_deadline(application: Any) -> dict[str, Any] | None:
    """When the entry's current state ends by itself, and what the system does then."""
    from app.services.programmes import programme_of
    from app.services.timers import deadline_of

    found = deadline_of(application)
    if found is None:
        return None
    transition = programme_of(application).transition(found[1], application.state)
    return {"due": found[0], "transition": transition}


def workflow_diagram(programme: Any, current: str | None = None) -> Markup:
    """The programme's workflow as inline SVG, ``current`` highlighted."""
    from app.engine.diagram import workflow_svg
    from app.i18n import localised, role_label

    return Markup(workflow_svg(programme.workflow, current=current, role_label=role_label,
                               label=localised))


def register_filters(app: Flask) -> None:
    """Make the filters and globals available to every template."""
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_date, "local_date")
    app.add_template_global(localised, "localised")
    app.add_template_global(round_label, "round_label")
    app.add_template_global(get_locale, "get_locale")
    app.add_template_global(state_deadline, "state_deadline")
    app.add_template_global(workflow_diagram, "workflow_diagram")
