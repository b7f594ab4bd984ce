"""One `transitions` machine per (programme, version), built once and never bound to rows."""

from __future__ import annotations

from threading import Lock
from typing import TYPE_CHECKING

from transitions import Machine

if TYPE_CHECKING:
    from app.engine.definitions import Programme

_machines: dict[tuple[str, int, str], Machine] = {}
_lock = Lock()


class Token:
    """A stand-in model carrying only a state, so a shared machine can move it."""

    def __init__(self, state: str) -> None:
        self.state = state


def build_machine(programme: Programme) -> Machine:
    """Build the machine for a programme: states, plain transitions, no auto transitions."""
    states = [s["name"] for s in programme.workflow["states"]]
    transitions = [
        {"trigger": t["trigger"], "source": t["source"], "dest": t["dest"]}
        for t in programme.workflow["transitions"]
    ]
    return Machine(model=None, states=states, transitions=transitions,
                   initial=programme.initial, auto_transitions=False,
                   ignore_invalid_triggers=False)


def machine_for(programme: Programme) -> Machine:
    """Return the cached machine of a programme version (keyed by its checksum too)."""
    key = (programme.key, programme.version, programme.checksum)
    machine = _machines.get(key)
    if machine is None:
        with _lock:
            machine = _machines.setdefault(key, build_machine(programme))
    return machine


def next_state(programme: Programme, trigger: str, state: str) -> str:
    """Ask the machine where `trigger` leads from `state`; raises MachineError if nowhere."""
    token = Token(state)
    machine_for(programme).events[trigger].trigger(token)
    return token.state
