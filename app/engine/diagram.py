"""Draw a workflow as SVG: states in columns by their distance from the start, transitions as
arrows labelled with the step and who takes it. No outside service or program is involved.

The layout is deliberately simple and stable: a state's column is its shortest distance from the
initial state, states keep their order of definition within a column, the final states that end
an entry without success (rejected, withdrawn, closed) sit in a band of their own below, forward
steps run left to right, and steps back (a return for correction) curve above the boxes.
"""

from __future__ import annotations

import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

BOX_H = 40
COLUMN_GAP = 150
ROW_GAP = 34
MARGIN = 24
FONT = 13
SMALL = 11


@dataclass
class _Box:
    """Where one state is drawn."""

    name: str
    label: str
    column: int
    row: int
    width: float
    x: float = 0.0
    y: float = 0.0

    @property
    def mid_y(self) -> float:
        """The vertical middle of the box."""
        return self.y + BOX_H / 2


def text_width(text: str, size: float = FONT) -> float:
    """An estimate of the width of ``text`` in pixels: CJK characters are square."""
    return sum(size if unicodedata.east_asian_width(c) in "WF" else size * 0.58 for c in text)


def _columns(workflow: dict[str, Any]) -> dict[str, int]:
    """Each state's shortest distance from the initial state (unreachable ones go last)."""
    column = {workflow["initial"]: 0}
    queue = deque([workflow["initial"]])
    while queue:
        state = queue.popleft()
        for t in workflow["transitions"]:
            if state in t["source"] and t["dest"] not in column:
                column[t["dest"]] = column[state] + 1
                queue.append(t["dest"])
    last = max(column.values(), default=0) + 1
    return {s["name"]: column.get(s["name"], last) for s in workflow["states"]}


def workflow_svg(workflow: dict[str, Any], *, current: str | None = None,
                 role_label: Callable[[str], str] = str,
                 label: Callable[[dict[str, Any]], str] = lambda item: str(item["label"])
                 ) -> str:
    """The workflow as a standalone SVG document; ``current`` is highlighted."""
    columns = _columns(workflow)
    ends = {s["name"] for s in workflow["states"]
            if s["final"] and s["outcome"] in ("rejected", "withdrawn", "closed")}
    rows: dict[int, int] = {}
    low_rows: dict[int, int] = {}
    boxes: dict[str, _Box] = {}
    for state in workflow["states"]:
        column = columns[state["name"]]
        band = low_rows if state["name"] in ends else rows
        text = label(state)
        boxes[state["name"]] = _Box(state["name"], text, column, band.get(column, 0),
                                    max(88.0, text_width(text) + 28))
        band[column] = band.get(column, 0) + 1
    used = set(rows) | set(low_rows)
    widths = {c: max(b.width for b in boxes.values() if b.column == c) for c in used}
    x = float(MARGIN)
    lefts = {}
    for c in sorted(widths):
        lefts[c] = x
        x += widths[c] + COLUMN_GAP
    back_steps = sum(1 for t in workflow["transitions"] for source in t["source"]
                     if columns[t["dest"]] <= columns[source] and t["dest"] not in ends)
    top = MARGIN + 16 + 18 * back_steps  # room for the steps back, drawn above
    main_height = max(rows.values(), default=1) * (BOX_H + ROW_GAP)
    for box in boxes.values():
        box.x = lefts[box.column] + (widths[box.column] - box.width) / 2
        box.y = top + box.row * (BOX_H + ROW_GAP)
        if box.name in ends:
            box.y += main_height + 20
    edges = _edges(workflow, boxes, ends, role_label, label, top)
    width = x - COLUMN_GAP + MARGIN
    height = max(b.y for b in boxes.values()) + BOX_H + MARGIN
    finals = {s["name"]: s for s in workflow["states"] if s["final"]}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'role="img" aria-label={quoteattr(str(workflow["title"]))}>',
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
        "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
        "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#5b6470\"/></marker></defs>",
        "<style>.state rect{fill:#fff;stroke:#5b6470;stroke-width:1.2}"
        ".state.initial rect{stroke-width:2.4}"
        ".state.final rect{fill:#f3f4f6;stroke-dasharray:none;stroke-width:2.4}"
        ".state.awarded rect,.state.passed rect{fill:#e8f5ec;stroke:#2e7d4f}"
        ".state.rejected rect,.state.withdrawn rect,.state.closed rect{fill:#fbeaea;"
        "stroke:#a33}"
        ".state.current rect{fill:#b1151c;stroke:#b1151c}.state.current text{fill:#fff}"
        ".state text{font-size:13px;fill:#1f2933}"
        ".edge path{fill:none;stroke:#5b6470;stroke-width:1.2}"
        ".edge.back path{stroke-dasharray:5 4}"
        ".edge text{font-size:11px;fill:#3d4650}.edge .roles{fill:#7a8591}"
        ".edge rect{fill:#fff;opacity:.85}</style>",
        *edges,
    ]
    for name, box in boxes.items():
        classes = ["state"]
        if name == workflow["initial"]:
            classes.append("initial")
        if name in finals:
            classes += ["final", str(finals[name]["outcome"])]
        if name == current:
            classes.append("current")
        parts.append(
            f'<g class="{" ".join(classes)}" data-state={quoteattr(name)}>'
            f'<title>{escape(box.label)}</title>'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{BOX_H}" '
            f'rx="{BOX_H / 2 if name in finals else 8}"/>'
            f'<text x="{box.x + box.width / 2:.1f}" y="{box.mid_y + 4.5:.1f}" '
            f'text-anchor="middle">{escape(box.label)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _edges(workflow: dict[str, Any], boxes: dict[str, _Box], ends: set[str],
           role_label: Callable[[str], str], label: Callable[[dict[str, Any]], str],
           top: float) -> list[str]:
    """The arrows with their labels."""
    parts: list[str] = []
    back = 0
    for t in workflow["transitions"]:
        for source in t["source"]:
            a, b = boxes[source], boxes[t["dest"]]
            text, sub = label(t), "、".join(role_label(r) for r in t["roles"])
            if t["dest"] in ends:  # down into the band of unsuccessful ends
                x1, y1 = a.x + a.width / 2, a.y + BOX_H
                x2, y2 = b.x + b.width / 2, b.y
                d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + 40:.1f} {x2:.1f},{y2 - 40:.1f} " \
                    f"{x2:.1f},{y2:.1f}"
                lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
                cls = "edge down"
            elif b.column > a.column:
                x1, y1, x2, y2 = a.x + a.width, a.mid_y, b.x, b.mid_y
                d = f"M{x1:.1f},{y1:.1f} C{x1 + 50:.1f},{y1:.1f} {x2 - 50:.1f},{y2:.1f} " \
                    f"{x2:.1f},{y2:.1f}"
                lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
                cls = "edge"
            else:  # a step back (or within a column): a curve above everything
                back += 1
                height = top - 14 - 18 * (back - 1)
                x1, y1 = a.x + a.width / 2 + 10, a.y
                x2, y2 = b.x + b.width / 2 - 10, b.y
                d = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{height - 20:.1f} {x2:.1f},{height - 20:.1f} " \
                    f"{x2:.1f},{y2:.1f}"
                lx, ly = (x1 + x2) / 2, height - 4
                cls = "edge back"
            w = max(text_width(text, SMALL), text_width(sub, SMALL)) + 8
            parts.append(
                f'<g class="{cls}" data-trigger={quoteattr(str(t["trigger"]))}>'
                f'<title>{escape(text)}（{escape(sub)}）</title>'
                f'<path d="{d}" marker-end="url(#arrow)"/>'
                f'<rect x="{lx - w / 2:.1f}" y="{ly - 14:.1f}" width="{w:.1f}" height="28" '
                f'rx="3"/>'
                f'<text x="{lx:.1f}" y="{ly - 2:.1f}" text-anchor="middle">{escape(text)}</text>'
                f'<text class="roles" x="{lx:.1f}" y="{ly + 11:.1f}" text-anchor="middle">'
                f'{escape(sub)}</text></g>')
    return parts
