"""Validation and normalisation of workflow definitions (files in workflows/)."""

from __future__ import annotations

import datetime
import re
from typing import Any

from app.engine.checker import Checker
from app.engine.definitions import RubricDef
from app.engine.registry import ACTIONS, GUARDS, Rule
from app.engine.review_settings import check_review_settings, check_round, check_round_weights
from app.models.accounts import Role

OUTCOMES = {"awarded", "passed", "rejected", "withdrawn", "closed"}
ROLES = {role.value for role in Role}
STYLES = {"primary", "secondary", "danger"}
COMMENT_MODES = {"required", "optional", "none"}
SERIAL_PATTERN = re.compile(r"^(?:[^{}]|\{code\}|\{year\}|\{seq(?::0[1-9]d)?\})+$")
DEFAULT_SERIAL = "{code}-{year}-{seq:04d}"
CERTIFICATE_OPTIONAL = {"title", "holder_field", "serial", "text", "template"}
TEMPLATE_KEY = re.compile(r"[a-z][a-z0-9_-]{1,39}")  # as app/certificates/templates.KEY_PATTERN
# The sentences printed under the holder's name: text with these placeholders, one paragraph each.
TEXT_PLACEHOLDERS = {"holder", "organisation", "call", "programme", "award", "year"}
# ... and {field.<key>}: a short field of the application form (its value as stored).
TEXT_FIELD_TYPES = {"text", "integer", "decimal", "date", "choice", "phone", "email"}
DEFAULT_TEXT = ["在{call}中表现突出，被评为“{award}”。", "特发此证，以资鼓励。"]
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
SCORE_GUARDS = {"round_score_at_least", "round_score_below"}
WORKFLOW_REQUIRED = {"key", "title", "version", "code", "form", "states", "transitions"}
WORKFLOW_OPTIONAL = {"title_en", "description", "title_field", "initial", "certificate",
                     "reviews"}
STATE_OPTIONAL = {"label_en", "final", "outcome", "editable", "review", "description",
                  "deadline", "notice", "fill"}
DEADLINE_KINDS = ("days", "working_days", "date", "call_closes")
TRANSITION_OPTIONAL = {"label_en", "guards", "actions", "form", "comment", "style", "description",
                       "notify"}
# What a step tells people (see docs/notifications.md): the event whose template is used, and
# who receives it. Without `notify` the engine derives the event from the step's shape.
NOTIFY_EVENTS = {"submitted", "returned", "recommended", "state_changed", "result_published",
                 "withdrawn"}
NOTIFY_RECIPIENTS = {"applicant", "district_admins", "city_admins"}


def check_workflow(doc: Any, check: Checker, forms: dict[str, Any],
                   rubrics: dict[str, Any]) -> dict[str, Any] | None:
    """Validate a workflow against the known forms and rubrics; return it normalised or None."""
    before = len(check.problems)
    doc = check.mapping(doc, "", WORKFLOW_REQUIRED, WORKFLOW_OPTIONAL)
    if not doc:
        return None
    form_key = doc.get("form")
    _check_form_ref(form_key, "form", check, forms, rubrics)
    application_form = forms.get(form_key) if isinstance(form_key, str) else None
    code = doc.get("code")
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z0-9]{2,12}", code):
        check.error("code", f"must be 2-12 capital letters or digits, got {code!r}")
    states = _check_states(doc.get("states"), check, rubrics)
    check_round_weights(states, check)
    names = [s["name"] for s in states]
    initial = doc.get("initial", names[0] if names else None)
    if not isinstance(initial, str) or initial not in names:
        check.error("initial", f"unknown state {initial!r}")
    elif states[names.index(initial)]["final"]:
        check.error("initial", "must not be a final state")
    workflow = {
        "key": check.ident(doc.get("key"), "key"),
        "title": check.text(doc.get("title"), "title"),
        "title_en": check.optional_text(doc, "title_en", ""),
        "description": check.optional_text(doc, "description", ""),
        "version": check.integer(doc.get("version"), "version", minimum=1),
        "code": code,
        "form": form_key,
        "title_field": _check_title_field(doc, application_form, check),
        "initial": initial,
        "states": states,
        "transitions": _check_transitions(doc.get("transitions"), check, states, forms, rubrics,
                                          application_form),
        "certificate": None,
        "reviews": check_review_settings(doc.get("reviews"), check, _leaf_keys(states, rubrics),
                                         {s["name"] for s in states if s["review"]},
                                         application_form),
    }
    if "certificate" in doc:
        workflow["certificate"] = _check_certificate(doc["certificate"], check, application_form,
                                                     workflow["title_field"])
    _check_rule_context(workflow, check)
    _check_deadlines(workflow, check)
    _check_notices(workflow, application_form, check)
    _check_fills(workflow, application_form, check)
    if len(check.problems) == before:
        _check_graph(workflow, check)
    return workflow if len(check.problems) == before else None


def _check_states(value: Any, check: Checker, rubrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Validate the list of states."""
    states = []
    seen: set[str] = set()
    for i, item in enumerate(check.sequence(value, "states", min_items=2)):
        path = f"states[{i}]"
        item = check.mapping(item, path, {"name", "label"}, STATE_OPTIONAL)
        if not item:
            continue
        name = check.ident(item.get("name"), f"{path}.name")
        if name in seen:
            check.error(f"{path}.name", f"duplicate state {name!r}")
        seen.add(name or "")
        final = bool(item.get("final", False))
        if "final" in item:
            check.boolean(item["final"], f"{path}.final")
        outcome = item.get("outcome")
        if final and outcome is None:
            check.error(f"{path}.outcome", "is required for a final state")
        elif not final and outcome is not None:
            check.error(f"{path}.outcome", "only final states have an outcome")
        elif outcome is not None:
            check.one_of(outcome, f"{path}.outcome", OUTCOMES)
        review = check_round(item.get("review"), f"{path}.review", check, rubrics)
        if review is not None and final:
            check.error(f"{path}.review", "a final state cannot be a review round")
        if "editable" in item:
            check.boolean(item["editable"], f"{path}.editable")
        deadline = _check_deadline(item["deadline"], f"{path}.deadline", check) \
            if "deadline" in item else None
        if deadline is not None and final:
            check.error(f"{path}.deadline", "a final state cannot have a deadline")
        notice = check.mapping(item["notice"], f"{path}.notice", {"fields", "sustained"},
                               {"show_award"}) if "notice" in item else None
        if notice and "show_award" in notice:
            check.boolean(notice["show_award"], f"{path}.notice.show_award")
        if notice is not None and final:
            check.error(f"{path}.notice", "a final state cannot be a public notice")
        fill = [check.ident(key, f"{path}.fill[{j}]") for j, key in enumerate(
            check.sequence(item["fill"], f"{path}.fill", min_items=1))] \
            if "fill" in item else []
        if fill and final:
            check.error(f"{path}.fill", "a final state cannot have sections to fill in")
        if fill and item.get("editable"):
            check.error(f"{path}.fill", "an editable state already opens the application form; "
                                        "a state either is editable or fills sections")
        states.append({
            "name": name, "label": check.text(item.get("label"), f"{path}.label"),
            "label_en": check.optional_text(item, "label_en", path),
            "description": check.optional_text(item, "description", path),
            "final": final, "outcome": outcome, "editable": bool(item.get("editable", False)),
            "review": review, "deadline": deadline, "fill": [key for key in fill if key],
            "notice": {"fields": notice.get("fields"), "sustained": notice.get("sustained"),
                       "show_award": notice.get("show_award") is True} if notice else None,
        })
    return states


def _check_deadline(value: Any, path: str, check: Checker) -> dict[str, Any] | None:
    """{days | working_days | date | call_closes, fire}: when the system fires ``fire``."""
    value = check.mapping(value, path, {"fire"}, set(DEADLINE_KINDS))
    if not value:
        return None
    kinds = [k for k in DEADLINE_KINDS if k in value]
    if len(kinds) != 1:
        check.error(path, "needs exactly one of days, working_days, date, call_closes")
        return None
    kind, amount = kinds[0], value[kinds[0]]
    if kind in ("days", "working_days"):
        amount = check.integer(amount, f"{path}.{kind}", minimum=1)
        if amount is not None and amount > 366:
            check.error(f"{path}.{kind}", "must be at most 366")
    elif kind == "date":
        amount = _date(amount)
        if amount is None:
            check.error(f"{path}.date", f"must be a date written YYYY-MM-DD, got "
                                        f"{value['date']!r}")
    elif amount is not True:
        check.error(f"{path}.call_closes", "must be true (the call's closing time)")
    return {"kind": kind, "value": amount, "fire": check.ident(value.get("fire"), f"{path}.fire")}


def _check_transitions(value: Any, check: Checker, states: list[dict[str, Any]],
                       forms: dict[str, Any], rubrics: dict[str, Any],
                       form: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Validate the list of transitions against the states and the registries."""
    by_name = {s["name"]: s for s in states}
    seen: set[tuple[str, str]] = set()
    transitions = []
    for i, item in enumerate(check.sequence(value, "transitions", min_items=1)):
        path = f"transitions[{i}]"
        item = check.mapping(item, path, {"trigger", "label", "source", "dest", "roles"},
                             TRANSITION_OPTIONAL)
        if not item:
            continue
        trigger = check.ident(item.get("trigger"), f"{path}.trigger")
        sources = item.get("source")
        sources = [sources] if isinstance(sources, str) else check.sequence(
            sources, f"{path}.source", min_items=1)
        for source in sources:
            if not check.known(source, f"{path}.source", by_name, "state"):
                continue
            if by_name[source]["final"]:
                check.error(f"{path}.source", f"{source!r} is final: nothing may leave it")
            if (trigger, source) in seen:
                check.error(f"{path}.trigger", f"{trigger!r} from {source!r} is defined twice")
            seen.add((trigger or "", str(source)))
        dest = item.get("dest")
        check.known(dest, f"{path}.dest", by_name, "state")
        roles = check.sequence(item.get("roles"), f"{path}.roles", min_items=1)
        for j, role in enumerate(roles):
            check.one_of(role, f"{path}.roles[{j}]", ROLES)
        step_form = item.get("form")
        if step_form is not None and _check_form_ref(step_form, f"{path}.form", check, forms,
                                                     rubrics):
            if any(f["type"] == "file" for s in forms[step_form]["sections"]
                   for f in s["fields"]):
                check.error(f"{path}.form", f"form {step_form!r} has file fields; a step form "
                                            "cannot take uploads")
        transitions.append({
            "trigger": trigger, "label": check.text(item.get("label"), f"{path}.label"),
            "label_en": check.optional_text(item, "label_en", path),
            "description": check.optional_text(item, "description", path),
            "source": list(sources), "dest": dest, "roles": list(roles), "form": step_form,
            "guards": _check_rules(item.get("guards", []), f"{path}.guards", check, GUARDS,
                                   by_name, form),
            "actions": _check_rules(item.get("actions", []), f"{path}.actions", check, ACTIONS,
                                    by_name, form),
            "comment": check.one_of(item.get("comment", "optional"), f"{path}.comment",
                                    COMMENT_MODES),
            "style": check.one_of(item.get("style", "secondary"), f"{path}.style", STYLES),
            "notify": _check_notify(item["notify"], f"{path}.notify", check)
            if "notify" in item else None,
        })
    return transitions


def _check_notify(value: Any, path: str, check: Checker) -> dict[str, Any]:
    """``notify``: an event, ``false`` (the step tells nobody), or {event, to: [recipients]}."""
    if value is False:
        return {"event": None, "to": []}
    if isinstance(value, str) or not isinstance(value, dict):
        return {"event": check.one_of(value, path, NOTIFY_EVENTS), "to": None}
    value = check.mapping(value, path, {"event"}, {"to"})
    to = None
    if "to" in value:
        to = [check.one_of(who, f"{path}.to[{j}]", NOTIFY_RECIPIENTS)
              for j, who in enumerate(check.sequence(value["to"], f"{path}.to", min_items=1))]
        if len(set(to)) != len(to):
            check.error(f"{path}.to", "names a recipient twice")
    return {"event": check.one_of(value.get("event"), f"{path}.event", NOTIFY_EVENTS),
            "to": to}


def _check_rules(value: Any, path: str, check: Checker, registry: dict[str, Rule],
                 states: dict[str, Any], form: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Validate guard or action references: a name, or {name: {param: value}}."""
    result = []
    for i, item in enumerate(check.sequence(value, path)):
        where = f"{path}[{i}]"
        params: Any
        if isinstance(item, str):
            name, params = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            params = params or {}
        else:
            check.error(where, "must be a name or a mapping {name: {parameters}}")
            continue
        rule = registry.get(name) if isinstance(name, str) else None
        if rule is None:
            check.error(where, f"unknown name {name!r} (known: {', '.join(sorted(registry))})")
            continue
        if not isinstance(params, dict):
            check.error(f"{where}.{name}", "parameters must be a mapping")
            continue
        result.append({"name": name, "params": _check_params(rule, params, f"{where}.{name}",
                                                             check, states, form)})
    return result


def _check_params(rule: Rule, params: dict[str, Any], path: str, check: Checker,
                  states: dict[str, Any], form: dict[str, Any] | None) -> dict[str, Any]:
    """Check parameter values against the rule's declared kinds and fill defaults."""
    required = {k for k, p in rule.params.items() if p.required}
    check.mapping(params, path, required, set(rule.params) - required)
    result = {}
    for key, param in rule.params.items():
        if key not in params:
            result[key] = param.default
            continue
        value, where = params[key], f"{path}.{key}"
        if param.kind == "int":
            check.integer(value, where, minimum=param.minimum)
        elif param.kind == "number":
            check.number(value, where)
        elif param.kind == "text":
            check.text(value, where, max_length=param.max_length)
        elif param.kind == "texts":
            for j, item in enumerate(check.sequence(value, where, min_items=1)):
                check.text(item, f"{where}[{j}]")
        elif param.kind == "bool":
            check.boolean(value, where)
        elif param.kind == "state":
            check.known(value, where, states, "state")
        elif param.kind == "states":
            for j, state in enumerate(check.sequence(value, where, min_items=1)):
                check.known(state, f"{where}[{j}]", states, "state")
        elif param.kind == "choice":
            check.one_of(value, where, list(param.choices))
        elif param.kind == "field" and form is not None:
            fields = {f["key"]: f for s in form["sections"] for f in s["fields"]}
            if check.known(value, where, fields, "field") and param.field_types and \
                    fields[value]["type"] not in param.field_types:
                check.error(where, f"{value!r} is a {fields[value]['type']} field; this needs "
                                   f"a {' or '.join(param.field_types)} field")
        result[key] = value
    return result


def _check_title_field(doc: dict[str, Any], form: dict[str, Any] | None,
                       check: Checker) -> str | None:
    """The form field whose value names an entry in lists; must be a text field."""
    if form is None:
        return None
    text_fields = [f["key"] for s in form["sections"] for f in s["fields"] if f["type"] == "text"]
    key = doc.get("title_field", text_fields[0] if text_fields else None)
    if key not in text_fields:
        check.error("title_field", f"must name a text field of form {form['key']!r}, got {key!r}")
    return key


def _check_certificate(value: Any, check: Checker, form: dict[str, Any] | None,
                       title_field: str | None) -> dict[str, Any]:
    """Validate the certificate settings of a workflow."""
    value = check.mapping(value, "certificate", {"award"}, CERTIFICATE_OPTIONAL)
    serial = value.get("serial", DEFAULT_SERIAL)
    if not isinstance(serial, str) or not SERIAL_PATTERN.match(serial) or "{seq" not in serial:
        check.error("certificate.serial",
                    "must contain {seq} or {seq:0Nd} and only {code}, {year} as other fields")
    holder = value.get("holder_field", title_field)
    text_fields = {f["key"] for s in form["sections"] for f in s["fields"]
                   if f["type"] == "text"} if form else set()
    if form and holder not in text_fields:
        check.error("certificate.holder_field", f"must name a text field, got {holder!r}")
    return {
        "title": check.optional_text(value, "title", "certificate") or "荣誉证书",
        "award": check.text(value.get("award"), "certificate.award"),
        "holder_field": holder,
        "serial": serial,
        "text": _check_text(value["text"], check, form) if "text" in value
        else list(DEFAULT_TEXT),
        "template": _check_template(value.get("template", "landscape"), check),
    }


def _check_template(value: Any, check: Checker) -> dict[str, str]:
    """A template key, or a mapping of award levels (and ``default``) to template keys;
    normalised to the mapping. Whether the keys exist is checked when certificates are issued
    (administrators add templates in the app)."""
    path = "certificate.template"
    if isinstance(value, str):
        value = {"default": value}
    if not isinstance(value, dict) or not value:
        check.error(path, "must be a template key or a mapping of award levels to template keys")
        return {"default": "landscape"}
    chosen = {}
    for level, key in value.items():
        if not isinstance(level, str) or not level.strip():
            check.error(path, f"award level {level!r} must be a non-empty text")
        elif not isinstance(key, str) or not TEMPLATE_KEY.fullmatch(key):
            check.error(f"{path}.{level}", "must be a template key: 2-40 lower-case letters, "
                                           f"digits, - or _, starting with a letter; got {key!r}")
        else:
            chosen[level] = key
    chosen.setdefault("default", "landscape")
    return chosen


def _check_text(value: Any, check: Checker, form: dict[str, Any] | None) -> list[str]:
    """One to three paragraphs, each text with only the known {placeholders}: the names above,
    or {field.<key>} of a short field of the application form."""
    fields = {f["key"]: f["type"] for s in form["sections"] for f in s["fields"]} if form else {}
    lines = []
    for i, line in enumerate(check.sequence(value, "certificate.text", min_items=1)):
        path = f"certificate.text[{i}]"
        if line is None:
            check.error(path, "must be a non-empty text, got None")
            continue
        if check.text(line, path, max_length=120) is None:
            continue
        unknown = sorted({name for name in PLACEHOLDER.findall(line)
                          if name not in TEXT_PLACEHOLDERS
                          and fields.get(name.removeprefix("field.")) not in TEXT_FIELD_TYPES})
        stray = PLACEHOLDER.sub("", line)
        if unknown:
            check.error(path, f"unknown placeholder {{{unknown[0]}}} (known: "
                              f"{', '.join(sorted(TEXT_PLACEHOLDERS))}, or field.<key> of a "
                              "short field of the application form)")
        elif "{" in stray or "}" in stray:
            check.error(path, "has a { or } that is not part of a {placeholder}")
        lines.append(line)
    if len(lines) > 3:
        check.error("certificate.text", "at most 3 paragraphs fit on a certificate")
    return lines


def _leaf_keys(states: list[dict[str, Any]], rubrics: dict[str, Any]) -> set[str]:
    """Keys of the scored criteria of every rubric the workflow's review states use."""
    return {leaf["key"] for state in states
            if state.get("review") and state["review"]["rubric"] in rubrics
            for leaf in RubricDef(rubrics[state["review"]["rubric"]]).leaves}


def _check_form_ref(key: Any, path: str, check: Checker, forms: dict[str, Any],
                    rubrics: dict[str, Any]) -> bool:
    """Check a reference to a form; say so when the key names a rubric instead."""
    if isinstance(key, str) and key in forms:
        return True
    if isinstance(key, str) and key in rubrics:
        check.error(path, f"{key!r} is a rubric, not a form")
    else:
        check.error(path, f"unknown form {key!r} (no file in forms/ has this key)")
    return False


def _date(value: Any) -> str | None:
    """An ISO date from YAML's date or its text form; None if it is not one."""
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    return None


def _leaving(workflow: dict[str, Any], trigger: Any, state: str) -> dict[str, Any] | None:
    """The transition ``trigger`` from ``state``, if the workflow has one."""
    return next((t for t in workflow["transitions"]
                 if t["trigger"] == trigger and state in t["source"]), None)


def _check_notices(workflow: dict[str, Any], form: dict[str, Any] | None,
                   check: Checker) -> None:
    """A public notice lists 1-8 plain fields of the application form; a sustained objection
    fires a transition that leaves the state and needs no form."""
    fields = {f["key"]: f for s in form["sections"] for f in s["fields"]} if form else {}
    for i, state in enumerate(workflow["states"]):
        notice = state.get("notice")
        if not notice:
            continue
        path = f"states[{i}].notice"
        shown = check.sequence(notice["fields"], f"{path}.fields", min_items=1)
        if len(shown) > 8:
            check.error(f"{path}.fields", "at most 8 fields fit in the public list")
        for j, key in enumerate(shown):
            if check.known(key, f"{path}.fields[{j}]", fields, "field") and \
                    fields[key]["type"] in ("file", "table", "textarea"):
                check.error(f"{path}.fields[{j}]", f"{key!r} is a {fields[key]['type']} field; "
                                                   "the public list shows short values only")
        trigger = notice["sustained"]
        move = _leaving(workflow, trigger, state["name"])
        if move is None:
            check.error(f"{path}.sustained", f"no transition {trigger!r} leaves "
                                             f"{state['name']!r}")
        elif move["form"]:
            check.error(f"{path}.sustained", f"{trigger!r} has a form; a decision on an "
                                             "objection gives only its written outcome")


def _check_fills(workflow: dict[str, Any], form: dict[str, Any] | None,
                 check: Checker) -> None:
    """``fill`` names keyed sections of the application form, each filled in one state only."""
    keyed = {s["key"] for s in form["sections"] if s.get("key")} if form else set()
    owner: dict[str, str] = {}
    for i, state in enumerate(workflow["states"]):
        for j, key in enumerate(state["fill"]):
            path = f"states[{i}].fill[{j}]"
            if form is not None and key not in keyed:
                known = ", ".join(sorted(keyed)) or "none"
                check.error(path, f"unknown section {key!r} (the sections of form "
                                  f"{form['key']!r} with a key: {known})")
            elif key in owner:
                check.error(path, f"section {key!r} is already filled in state "
                                  f"{owner[key]!r}; each stage has sections of its own")
            else:
                owner[key] = state["name"]
    if workflow["initial"] in {s["name"] for s in workflow["states"] if s["fill"]}:
        check.error("initial", "the initial state is editable; it cannot fill stage sections")


def _check_deadlines(workflow: dict[str, Any], check: Checker) -> None:
    """A deadline fires a transition that leaves its state and that the system can make alone:
    no form to fill in, no comment required."""
    for i, state in enumerate(workflow["states"]):
        deadline = state.get("deadline")
        if not deadline or not deadline["fire"]:
            continue
        move = _leaving(workflow, deadline["fire"], state["name"])
        path = f"states[{i}].deadline.fire"
        if move is None:
            check.error(path, f"no transition {deadline['fire']!r} leaves {state['name']!r}")
        elif move["form"]:
            check.error(path, f"{deadline['fire']!r} has a form to fill in; the system cannot")
        elif move["comment"] == "required":
            check.error(path, f"{deadline['fire']!r} requires a comment; the system cannot "
                              "write one")


def _check_rule_context(workflow: dict[str, Any], check: Checker) -> None:
    """Guards and actions that only make sense in some places of the workflow."""
    states = {s["name"]: s for s in workflow["states"] if s["name"]}
    for i, t in enumerate(workflow["transitions"]):
        names = {ref["name"] for ref in t["guards"] + t["actions"]}
        if "issue_certificate" in names and workflow["certificate"] is None:
            check.error(f"transitions[{i}].actions",
                        "issue_certificate needs a 'certificate' block in the workflow")
        for ref in t["guards"]:
            if ref["name"] == "not_prior_winner" and ref["params"].get("by") == "field" \
                    and not ref["params"].get("field"):
                check.error(f"transitions[{i}].guards", "not_prior_winner with by: field needs "
                                                        "field (the form field to compare)")
        if "award_confirmed" in names and workflow["reviews"]["awards"] is None:
            check.error(f"transitions[{i}].guards",
                        "award_confirmed needs a 'reviews.awards' block in the workflow")
        elif "award_confirmed" in names:
            _check_award_levels(t, i, workflow["reviews"]["awards"], check)
        for ref in t["guards"]:
            scored = ref["params"].get("round") if ref["name"] in SCORE_GUARDS else None
            if scored in states and not states[scored]["review"]:
                check.error(f"transitions[{i}].guards", f"{ref['name']} needs a review state; "
                                                        f"{scored!r} has no 'review'")
        if "all_reviews_submitted" in names:
            for source in t["source"]:
                if source in states and not states[source]["review"]:
                    check.error(f"transitions[{i}].guards", "all_reviews_submitted needs every "
                                f"source state to be a review state; {source!r} has no 'review'")


def _check_award_levels(transition: dict[str, Any], i: int, awards: dict[str, Any],
                        check: Checker) -> None:
    """award_confirmed's ``levels`` are names of the workflow's award levels, and need
    ``awarded: true``."""
    known = [level["name"] for level in awards["levels"]]
    for ref in transition["guards"]:
        if ref["name"] != "award_confirmed" or not ref["params"].get("levels"):
            continue
        path = f"transitions[{i}].guards"
        if ref["params"].get("awarded") is False:
            check.error(path, "award_confirmed: levels and awarded: false exclude each other")
        for name in ref["params"]["levels"]:
            if name not in known:
                check.error(path, f"award_confirmed: unknown level {name!r} (the levels of "
                                  f"reviews.awards: {', '.join(known)})")


def _check_graph(workflow: dict[str, Any], check: Checker) -> None:
    """Every state reachable from the initial one, every non-final state with a way out."""
    outgoing: dict[str, set[str]] = {s["name"]: set() for s in workflow["states"]}
    for t in workflow["transitions"]:
        for source in t["source"]:
            outgoing[source].add(t["dest"])
    reached, frontier = {workflow["initial"]}, [workflow["initial"]]
    while frontier:
        for dest in outgoing[frontier.pop()]:
            if dest not in reached:
                reached.add(dest)
                frontier.append(dest)
    for i, state in enumerate(workflow["states"]):
        if state["name"] not in reached:
            check.error(f"states[{i}]", f"state {state['name']!r} cannot be reached from "
                                        f"{workflow['initial']!r}")
        if not state["final"] and not outgoing[state["name"]]:
            check.error(f"states[{i}]", f"state {state['name']!r} is not final and has no "
                                        "transition out of it")
    if not any(s["final"] for s in workflow["states"]):
        check.error("states", "at least one state must be final")
