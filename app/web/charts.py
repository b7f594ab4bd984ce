"""Geometry of the charts the dashboards draw (no script, no library).

Each chart row is an HTML line — label, a small inline SVG track, the figure — so text keeps the
page's size on a phone and on a wide screen; inside the track, positions are percentages of its
width. The templates in ``_charts.html`` draw them and the stylesheet colours each kind of bar.
Every chart comes with the same figures as a table, for screen readers and for reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.engine.calendar import LOCAL

ROOM = 92.0  # per cent of the track the longest bar fills, leaving air at the end


@dataclass(frozen=True)
class Segment:
    """A piece of a bar: where it starts and how wide it is (per cent), what it counts."""

    x: float
    width: float
    kind: str
    value: int
    title: str = ""


@dataclass(frozen=True)
class Bar:
    """One labelled row of a chart, made of segments (spans or counts)."""

    label: str
    segments: list[Segment]
    total: int = 0
    href: str | None = None


def bar_chart(rows: Sequence[tuple[str, Mapping[str, int], str | None]],
              kinds: Iterable[str]) -> list[Bar]:
    """Horizontal bars, one per (label, counts by kind, link); the kinds are stacked in the
    given order on a scale shared by all rows."""
    order = list(kinds)
    widest = max((sum(counts.values()) for _label, counts, _href in rows), default=0)
    scale = ROOM / widest if widest else 0
    bars = []
    for label, counts, href in rows:
        x, segments = 0.0, []
        for kind in order:
            value = counts.get(kind, 0)
            if value:
                width = max(value * scale, 0.5)
                segments.append(Segment(round(x, 2), round(width, 2), kind, value))
                x += width
        bars.append(Bar(label, segments, sum(counts.values()), href))
    return bars


@dataclass(frozen=True)
class Timeline:
    """A year from January to December: month ticks, rows of spans and marks, today's line
    (all in per cent of the track)."""

    ticks: list[tuple[float, str]]
    rows: list[Bar]
    today: float | None


def year_timeline(year: int, rows: Sequence[tuple[str, str | None,
                                                    Sequence[tuple[datetime, datetime, str, str]]]],
                  now: datetime, month_names: Sequence[str]) -> Timeline:
    """Rows of (label, link, spans as (start, end, kind, title)) on the Beijing calendar of
    ``year``; a span with start == end is a mark (width 0). Spans outside the year are left
    out, those crossing its edges are clipped."""
    start = datetime(year, 1, 1, tzinfo=LOCAL)
    end = datetime(year + 1, 1, 1, tzinfo=LOCAL)
    length = (end - start) / timedelta(seconds=1)

    def x_of(moment: datetime) -> float:
        seconds = (min(max(moment, start), end) - start) / timedelta(seconds=1)
        return round(100 * seconds / length, 2)

    ticks = [(x_of(datetime(year, month, 1, tzinfo=LOCAL)), month_names[month - 1])
             for month in range(1, 13)]
    drawn = [Bar(label, [Segment(x_of(a), 0.0 if a == b else max(x_of(b) - x_of(a), 0.4),
                                 kind, 0, title)
                         for a, b, kind, title in spans if a < end and b >= start], 0, href)
             for label, href, spans in rows]
    return Timeline(ticks, drawn, x_of(now) if start <= now < end else None)
