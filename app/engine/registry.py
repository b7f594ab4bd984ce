"""The named guards and actions that definitions may refer to, with their parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Parameter kinds a definition may pass; the workflow validator checks each value.
PARAM_KINDS = {"int", "number", "text", "texts", "bool", "state", "states", "field", "choice"}


@dataclass(frozen=True)
class Param:
    """One parameter of a guard or action."""

    kind: str
    required: bool = False
    default: Any = None
    help: str = ""
    minimum: int | None = None
    max_length: int = 500  # for kind "text"
    choices: tuple[str, ...] = ()  # for kind "choice": the values allowed
    field_types: tuple[str, ...] = ()  # for kind "field": the field types allowed (any if empty)


@dataclass(frozen=True)
class Rule:
    """A named guard or action: the function and the parameters it accepts."""

    name: str
    func: Callable[..., Any]
    description: str
    params: dict[str, Param] = field(default_factory=dict)
    # A guard whose answer for one entry does not change when other entries move (a count of
    # the entry's own sheets, say; not a quota): the engine may check many such entries first
    # and move them together (see runtime.fire_many).
    independent: bool = False


Decorated = Callable[..., Any]

GUARDS: dict[str, Rule] = {}
ACTIONS: dict[str, Rule] = {}


def _register(table: dict[str, Rule], name: str, description: str,
              params: dict[str, Param] | None, independent: bool = False
              ) -> Callable[[Decorated], Decorated]:
    """Build a decorator that files a function under `name` in `table`."""
    for param in (params or {}).values():
        assert param.kind in PARAM_KINDS, param.kind

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if name in table:
            raise ValueError(f"{name!r} is registered twice")
        table[name] = Rule(name, func, description, params or {}, independent)
        return func

    return decorate


def guard(name: str, description: str, params: dict[str, Param] | None = None, *,
          independent: bool = False) -> Callable[[Decorated], Decorated]:
    """Register a guard: `func(ctx, **params)` returns None to allow, or a reason to refuse.
    ``independent``: its answer for an entry never depends on other entries (see Rule)."""
    return _register(GUARDS, name, description, params, independent)


def action(name: str, description: str, params: dict[str, Param] | None = None
           ) -> Callable[[Decorated], Decorated]:
    """Register an action: `func(ctx, **params)` runs inside the transaction after the move."""
    return _register(ACTIONS, name, description, params)
