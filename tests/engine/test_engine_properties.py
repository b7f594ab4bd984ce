"""Property-based: random valid definitions, random sequences of steps by random users.

Hypothesis draws a workflow (states, final ones with outcomes, transitions between them with
roles and comment modes), which the real validator must accept; the workflow is recorded as a
programme version and an entry is pinned to it. Then it draws steps — a trigger (sometimes one
the programme does not have) and who takes it (the entry's applicant, another applicant, the
entry's district, another district, the city, an expert) — and checks each against a reference
model of the engine's rules:

- a step succeeds exactly when a transition with that trigger leaves the current state, the
  user's role is among its roles and the entry is within the user's reach;
- a success moves the entry to the transition's destination and writes exactly one history row
  (who, trigger, from, to); a refusal changes neither the state nor the history;
- the history is a chain: each row starts where the previous one ended;
- once in a final state, the entry never moves again.
"""

from __future__ import annotations

import itertools
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.engine.errors import Conflict, Forbidden, NotFound
from app.engine.loader import build_catalogue
from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, AuditEntry
from app.services.programmes import record_version

FORM = {"kind": "form", "key": "prop_form", "title": "表",
        "sections": [{"title": "一", "fields": [{"key": "name", "label": "名称", "type": "text"}]}]}
ROLES = ["applicant", "district_admin", "city_admin", "expert"]
OUTCOMES = ["awarded", "passed", "rejected", "withdrawn", "closed"]
TRIGGERS = ["go", "back", "pass", "fail", "send", "hold", "close"]  # and one none has: nope
ACTORS = ["owner", "other_applicant", "own_district", "other_district", "city", "expert1"]
COUNTER = itertools.count(1)


@st.composite
def workflows(draw: st.DrawFn) -> dict[str, Any]:
    """A workflow the validator accepts: every state reachable, every open state has a way on."""
    n = draw(st.integers(min_value=2, max_value=7))
    finals = set(draw(st.sets(st.integers(min_value=1, max_value=n - 1), min_size=1)))
    states = [{"name": f"s{i}", "label": f"状态{i}"} for i in range(n)]
    states[0]["editable"] = True
    for i in finals:
        states[i].update(final=True, outcome=draw(st.sampled_from(OUTCOMES)))
    open_states = [i for i in range(n) if i not in finals]
    edges: list[tuple[int, int]] = []
    for i in range(1, n):  # a way into every state from an open state before it (or s0)
        sources = [j for j in open_states if j < i] or [0]
        edges.append((draw(st.sampled_from(sources)), i))
    for i in open_states:  # a way out of every open state
        if not any(source == i for source, _ in edges):
            edges.append((i, draw(st.sampled_from(sorted(finals)))))
    extra = draw(st.lists(st.tuples(st.sampled_from(open_states), st.integers(0, n - 1)),
                          max_size=6))
    transitions, used = [], set()
    for number, (source, dest) in enumerate([*edges, *extra]):
        free = [t for t in TRIGGERS if (t, source) not in used]
        if not free:  # only extra edges can run out: a state has at most 6 needed ones
            assert number >= len(edges)
            continue
        trigger = draw(st.sampled_from(free))
        used.add((trigger, source))
        transitions.append({
            "trigger": trigger, "label": f"{trigger}{source}{dest}", "source": f"s{source}",
            "dest": f"s{dest}",
            "roles": draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True)),
            "comment": draw(st.sampled_from(["required", "optional", "none"]))})
    key = f"prop{next(COUNTER)}"
    return {"key": key, "title": "随机流程", "version": 1, "code": "PROP", "form": "prop_form",
            "states": states, "transitions": transitions}


def _programme(workflow: dict[str, Any]) -> Any:
    """Validate the drawn workflow with the real loader and record it as a version."""
    docs = [(f"workflows/{workflow['key']}.yaml", workflow,
             yaml.safe_dump(workflow, allow_unicode=True))]
    form = [("forms/prop_form.yaml", FORM, yaml.safe_dump(FORM, allow_unicode=True))]
    programme = build_catalogue(form, docs)[workflow["key"]]
    return programme, record_version(programme)


def _allowed(programme: Any, state: str, trigger: str, actor: str, users: dict[str, Any],
             role_of: dict[str, str]) -> dict[str, Any] | None:
    """The reference model: the transition the step takes, or None when it must be refused."""
    transition = programme.transition(trigger, state)
    if transition is None or role_of[actor] not in transition["roles"]:
        return None
    in_reach = {"owner": True, "own_district": True, "city": True}.get(actor, False)
    return transition if in_reach else None


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(workflow=workflows(), data=st.data())
def test_the_engine_follows_its_definition(world, workflow, data):
    users = world["users"]
    actors = {"owner": users["wj1"], "other_applicant": users["wj2"],
              "own_district": users["wj_admin"], "other_district": users["tn_admin"],
              "city": users["city"], "expert1": users["expert1"]}
    role_of = {name: str(user.role) for name, user in actors.items()}
    programme, version = _programme(workflow)
    application = Application(call=world["call"], programme_version_id=version.id,
                              applicant=users["wj1"], org_id=users["wj1"].org_id,
                              district_id=users["wj1"].org.district_id, state=programme.initial,
                              data={}, step_data={})
    db.session.add(application)
    db.session.flush()
    steps = data.draw(st.lists(st.tuples(
        st.sampled_from([*TRIGGERS, "nope"]),
        st.sampled_from(ACTORS)), max_size=25))
    history = 0
    for trigger, actor in steps:
        before = application.state
        expected = _allowed(programme, before, trigger, actor, users, role_of)
        comment = "" if expected is None or expected["comment"] == "none" else "理由"
        try:
            entry = fire(application, trigger, actors[actor], comment=comment)
        except (Conflict, Forbidden, NotFound) as refused:
            assert expected is None, (before, trigger, actor, refused.message)
            assert application.state == before
            if programme.is_final(before):
                assert not isinstance(refused, Forbidden)  # nothing leaves: not even a role
        else:
            assert expected is not None, (before, trigger, actor)
            assert not programme.is_final(before)
            assert application.state == expected["dest"]
            assert (entry.from_state, entry.to_state, entry.trigger, entry.actor_id) == (
                before, expected["dest"], trigger, actors[actor].id)
            history += 1
        count = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.application_id == application.id))
        assert count == history
    rows = db.session.scalars(select(AuditEntry).where(
        AuditEntry.application_id == application.id).order_by(AuditEntry.id)).all()
    state = programme.initial
    for row in rows:
        assert row.from_state == state
        state = row.to_state
    assert state == application.state
    db.session.rollback()
