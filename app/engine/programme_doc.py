"""A programme's reference page (docs/programmes/<key>.md), written from its definition.

The page says who acts, the stages, the steps with their rules, the form, the rubrics, the
awards and the certificate — all read from the checked definition, so that the page cannot
drift from the files (`flask workflows docs` writes the pages; a test compares them).
"""

from __future__ import annotations

from typing import Any

from app.engine.definitions import Programme

ROLE_NAMES = {"applicant": "applicant (申报人)", "district_admin": "district administrator (区级)",
              "city_admin": "city administrator (市级)", "expert": "expert (评审专家)"}
COMMENT = {"required": "comment required", "optional": "", "none": "no comment"}


def programme_markdown(programme: Programme) -> str:
    """The whole page, in Markdown."""
    workflow = programme.workflow
    parts = [
        f"# {workflow['title']} — {workflow['title_en'] or workflow['key']}",
        "",
        f"`workflows/{workflow['key']}.yaml`, version {workflow['version']}, code "
        f"`{workflow['code']}`. This page is generated from the definition by "
        "`flask workflows docs docs/programmes`; edit the YAML, not this page.",
        "",
        workflow["description"].strip(),
        "",
        f"![The workflow of {workflow['key']}]({workflow['key']}.svg)",
        "",
        *_who_acts(programme),
        *_stages(programme),
        *_steps(programme),
        *_form(programme),
        *_rubrics(programme),
        *_awards(programme),
        *_certificate(programme),
    ]
    return "\n".join(parts).rstrip() + "\n"


def _who_acts(programme: Programme) -> list[str]:
    """Each role with the steps it takes."""
    lines = ["## Who acts", ""]
    by_role: dict[str, list[str]] = {}
    for t in programme.transitions:
        for role in t["roles"]:
            by_role.setdefault(role, [])
            if t["label"] not in by_role[role]:
                by_role[role].append(t["label"])
    for role in ("applicant", "district_admin", "city_admin"):
        if role in by_role:
            lines.append(f"- **{ROLE_NAMES[role]}**: {'、'.join(by_role[role])}")
    if programme.rounds:
        rounds = "、".join(r.label for r in programme.rounds.values())
        lines.append(f"- **{ROLE_NAMES['expert']}**: score the entries assigned to them in "
                     f"{rounds}")
    if any(s["notice"] for s in programme.workflow["states"]):
        lines.append("- **the public**: reads the notice list (公示) and may raise an objection")
    if any(s["deadline"] for s in programme.workflow["states"]):
        lines.append("- **the system**: fires the step a state's deadline names")
    return [*lines, ""]


def _stages(programme: Programme) -> list[str]:
    """One row per state: what happens there."""
    lines = ["## Stages", "", "| state | label | what happens |", "|---|---|---|"]
    for state in programme.workflow["states"]:
        lines.append(f"| `{state['name']}` | {state['label']} | {_state_text(programme, state)} |")
    return [*lines, ""]


def _state_text(programme: Programme, state: dict[str, Any]) -> str:
    """The state's features in words."""
    notes = []
    if state["name"] == programme.initial:
        notes.append("initial")
    if state["editable"]:
        notes.append("the applicant edits the application")
    if state["fill"]:
        titles = [s["title"] for s in programme.application_form.raw["sections"]
                  if s["key"] in state["fill"]]
        notes.append(f"the applicant fills in {'、'.join(titles)}")
    review = programme.review_round(state["name"])
    if review:
        details = [f"rubric `{review.rubric.raw['key']}`", f"weight {review.weight}"]
        if review.blind:
            details.append("blind")
        if review.quorum:
            details.append(f"quorum {review.quorum}")
        notes.append(f"review round ({', '.join(details)})")
    if state["notice"]:
        award = " and the award level" if state["notice"].get("show_award") else ""
        notes.append(f"public notice showing {_field_labels(programme, state['notice']['fields'])}"
                     f"{award}"
                     f"; a sustained objection fires `{state['notice']['sustained']}`")
    if state["deadline"]:
        deadline = state["deadline"]
        amount = {"days": f"{deadline['value']} days", "date": f"on {deadline['value']}",
                  "working_days": f"{deadline['value']} working days",
                  "call_closes": "when the call closes"}[deadline["kind"]]
        notes.append(f"deadline {amount}, then the system fires `{deadline['fire']}`")
    if state["final"]:
        notes.append(f"final, outcome **{state['outcome']}**")
    return "; ".join(notes) or "—"


def _steps(programme: Programme) -> list[str]:
    """One row per transition: from, to, who, rules and what it does."""
    lines = ["## Steps and rules", "",
             "| step | from → to | who | conditions | then |", "|---|---|---|---|---|"]
    for t in programme.transitions:
        sources = "、".join(programme.label(s) for s in t["source"])
        conditions = [_rule_text(programme, ref) for ref in t["guards"]]
        if COMMENT[t["comment"]]:
            conditions.append(COMMENT[t["comment"]])
        then = [_rule_text(programme, ref) for ref in t["actions"]]
        if t["form"]:
            then.insert(0, f"step form `{t['form']}`")
        lines.append(f"| {t['label']} (`{t['trigger']}`) | {sources} → "
                     f"{programme.label(t['dest'])} | {', '.join(t['roles'])} | "
                     f"{'<br>'.join(conditions) or '—'} | {'<br>'.join(then) or '—'} |")
    return [*lines, ""]


def _rule_text(programme: Programme, ref: dict[str, Any]) -> str:
    """A guard or action with its parameters, state names shown as labels."""
    params = []
    for key, value in ref["params"].items():
        if value is None or (key == "by" and value == "applicant"):
            continue
        if key == "states":
            value = "、".join(programme.label(v) for v in value)
        elif isinstance(value, list):
            value = "、".join(str(v) for v in value)
        elif key == "field":
            value = _field_labels(programme, [value])
        params.append(f"{key}: {value}")
    name = f"`{ref['name']}`"
    return f"{name} ({'; '.join(params)})" if params else name


def _field_labels(programme: Programme, keys: list[str]) -> str:
    """Field labels of the application form."""
    fields = programme.application_form.by_key
    return "、".join(fields[k]["label"] if k in fields else k for k in keys)


def _form(programme: Programme) -> list[str]:
    """The application form: sections and fields, stage sections marked."""
    form = programme.application_form.raw
    lines = [f"## Application form: {form['title']}", "",
             f"`forms/{form['key']}.yaml`. Fields marked * are required at submission "
             "(stage sections: when their stage is completed); 🔒 identifying, hidden from "
             "experts in a blind round.", ""]
    for section in form["sections"]:
        stage = programme.stage_sections.get(section["key"] or "")
        where = f" — filled in at 「{programme.label(stage)}」" if stage else ""
        fields = "、".join(f"{f['label']}{'*' if f.get('required') else ''}"
                          f"{'🔒' if f.get('identifying') else ''}" for f in section["fields"])
        lines.append(f"- **{section['title']}**{where}: {fields}")
    return [*lines, ""]


def _rubrics(programme: Programme) -> list[str]:
    """Each round's rubric: criteria with points, veto items."""
    if not programme.rounds:
        return []
    lines = ["## Rubrics", ""]
    for review in programme.rounds.values():
        raw = review.rubric.raw
        lines += [f"### {review.label}: {raw['title']} (`{raw['key']}`, {raw['max']} points)", ""]
        for criterion in raw["criteria"]:
            subs = "、".join(f"{c['label']} {c['max']}" for c in criterion["criteria"])
            lines.append(f"- {criterion['label']} {criterion['max']}" + (f" ({subs})" if subs
                                                                          else ""))
        if raw.get("vetoes"):
            lines.append(f"- veto items (一票否决): {'、'.join(v['label'] for v in raw['vetoes'])}")
        lines.append("")
    return lines


def _awards(programme: Programme) -> list[str]:
    """Award levels: proportions, thresholds, grouping, basis."""
    awards = programme.workflow["reviews"]["awards"]
    if not awards:
        return []
    basis = awards.get("basis", "final")
    on = "the final score" if basis == "final" else \
        f"the score of {programme.label(basis.split(':', 1)[1])} alone"
    lines = ["## Awards", "", f"Proposed from {on}, confirmed by the city:", ""]
    for level in awards["levels"]:
        rule = [f"{float(level['proportion']):.0%} of the ranked entries"
                if level["proportion"] else "", f"score ≥ {level['threshold']}"
                if level["threshold"] else ""]
        lines.append(f"- **{level['name']}**: {' and '.join(r for r in rule if r)}")
    if awards["group_by"]:
        shares = ", shares counted per group" if awards["per_group"] else ""
        cap = f", at most {awards['cap']} per group" if awards["cap"] else ""
        lines.append(f"- grouped by {awards['group_by']}{shares}{cap}")
    return [*lines, ""]


def _certificate(programme: Programme) -> list[str]:
    """What the certificate says and looks like."""
    certificate = programme.workflow["certificate"]
    if not certificate:
        return ["## Certificate", "", "None.", ""]
    templates = ", ".join(f"{level}: `{key}`" for level, key in certificate["template"].items())
    return ["## Certificate", "",
            f"- {certificate['title']}, award 「{certificate['award']}」 (or the confirmed level), "
            f"serial `{certificate['serial']}`",
            f"- template: {templates}",
            *[f"- text: {line}" for line in certificate["text"]], ""]


def index_markdown(programmes: list[Programme]) -> str:
    """The folder's README: one line per programme."""
    lines = ["# Programmes", "",
             "One page per programme shipped in `workflows/`, generated from the definitions by "
             "`flask workflows docs docs/programmes`. How to write one: "
             "[../definitions.md](../definitions.md).", "",
             "| programme | key | states | review rounds |", "|---|---|---|---|"]
    for programme in sorted(programmes, key=lambda p: p.key):
        lines.append(f"| [{programme.title}]({programme.key}.md) | `{programme.key}` | "
                     f"{len(programme.states)} | {len(programme.rounds)} |")
    return "\n".join(lines) + "\n"

