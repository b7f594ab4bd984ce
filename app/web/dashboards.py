"""What the city's and the districts' overview pages share: the words for each kind of bar and
the charts built from a call's overview."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from babel.dates import get_month_names
from flask import render_template
from flask_babel import get_locale
from flask_babel import gettext as _

from app.models.base import utcnow
from app.services.dashboards import KINDS, CalendarRow, CallOverview
from app.web.charts import Bar, Timeline, bar_chart, year_timeline
from app.web.filters import local_time


def kind_labels() -> dict[str, str]:
    """Who the entries wait for, or how they ended, in the user's language."""
    return {"applicant": _("With the applicant"), "district": _("With the district"),
            "review": _("In expert review"), "city": _("With the city"),
            "passed": _("Passed"), "failed": _("Not passed"),
            "window": _("Application period")}


def overview_page(overview: CallOverview, scoped: bool, state_link: Callable[[str], str],
                  district_link: Callable[[int], str]) -> str:
    """The overview page of a call, for the city or (``scoped``) for one district; the bars
    link where ``state_link`` and ``district_link`` say."""
    return render_template(
        "dashboards/call.html", overview=overview, scoped=scoped, labels=kind_labels(),
        kinds=kinds_in(overview), now=utcnow(), states=state_chart(overview, state_link),
        districts=district_chart(overview, district_link))


def state_chart(overview: CallOverview, link: Callable[[str], str]) -> list[Bar]:
    """A bar per state of the programme, coloured by who the entries wait for."""
    return bar_chart([(s.label, {s.kind: s.count}, link(s.name)) for s in overview.states],
                     KINDS)


def district_chart(overview: CallOverview, link: Callable[[int], str]) -> list[Bar]:
    """A stacked bar per district: its entries by kind, on one scale."""
    return bar_chart([(row.district.name, row.kinds, link(row.district.id))
                      for row in overview.districts], KINDS)


def kinds_in(overview: CallOverview) -> list[str]:
    """The kinds that occur in the call, in chart order (for the legend)."""
    seen: Counter[str] = Counter()
    for s in overview.states:
        seen[s.kind] += s.count
    return [kind for kind in KINDS if seen[kind]]


def calendar_chart(year: int, rows: list[CalendarRow], now: datetime,
                   link: Callable[[int], str]) -> Timeline:
    """The year's calls as timeline rows: the application period, each stage, deadlines."""
    names = get_month_names("abbreviated", locale=get_locale())
    months = [names[n] for n in range(1, 13)]
    return year_timeline(year, [
        (row.call.title, link(row.call.id),
         [(span.start, span.end, span.kind,
           f"{span.label or _('Application period')}：{local_time(span.start, '%m-%d')}"
           f" – {local_time(span.end, '%m-%d')}{_(' (ongoing)') if span.ongoing else ''}")
          for span in row.spans]
         + [(mark.at, mark.at, "mark", f"{_('Scores due')}（{mark.label}）：{local_time(mark.at)}")
            for mark in row.marks])
        for row in rows], now, months)
