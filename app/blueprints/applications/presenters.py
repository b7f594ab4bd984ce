"""What the application pages show: steps, history, moves, reviews — read from the definition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.engine.definitions import FormDef, Programme
from app.engine.runtime import Availability, available_transitions
from app.extensions import db
from app.i18n import localised
from app.models import Application, AuditEntry, Certificate, ReviewAssignment, Role, User
from app.permissions import can_administer, can_edit_application, can_see_step_data
from app.services.blind import entry_view
from app.services.invitations import pool_ids
from app.services.programmes import programme_of
from app.services.rounds import entry_scores

STYLE_ORDER = {"primary": 0, "secondary": 1, "danger": 2}  # the main move first


@dataclass(frozen=True)
class Step:
    """One state in the step list, with where the entry stands relative to it."""

    state: dict[str, Any]
    status: str  # done | current | todo


def main_path(programme: Programme) -> list[str]:
    """The states of the usual way through: follow primary moves, else the first forward one."""
    path, state = [programme.initial], programme.initial
    while not programme.is_final(state):
        moves = [t for t in programme.transitions_from(state) if t["dest"] not in path
                 and programme.states[t["dest"]]["outcome"] in (None, "awarded", "passed")]
        if not moves:
            break
        moves.sort(key=lambda t: t["style"] != "primary")
        state = moves[0]["dest"]
        path.append(state)
    return path


def steps(programme: Programme, application: Application) -> list[Step]:
    """The step list: states passed, the current one (even off the usual way), those ahead."""
    path = main_path(programme)
    reached = {e.to_state for e in application.history} | {application.state}
    last = max((i for i, name in enumerate(path) if name in reached), default=0)
    current = application.state
    result = [Step(programme.states[name], "current" if name == current else "done")
              for name in path[: last + 1]]
    if current not in path:
        result.append(Step(programme.states[current], "current"))
    if not programme.is_final(current):
        result += [Step(programme.states[name], "todo") for name in path[last + 1:]]
    return result


@dataclass(frozen=True)
class HistoryRow:
    """One audit entry, with labels instead of names."""

    entry: AuditEntry
    action: str
    from_label: str
    to_label: str
    step_data: list[tuple[dict[str, Any], Any]]


def history(programme: Programme, application: Application, viewer: User) -> list[HistoryRow]:
    """The timeline, newest first; step data (ranks, opinions) is not shown to applicants."""
    return [history_row(programme, entry, with_data=can_see_step_data(viewer))
            for entry in reversed(application.history)]


def history_row(programme: Programme, entry: AuditEntry, with_data: bool) -> HistoryRow:
    """One move with the labels of its step and states (and its step form's values)."""
    transition = next((t for t in programme.transitions if t["trigger"] == entry.trigger), None)
    action = localised_label(transition) if transition else _("Created")
    form = programme.forms.get(transition["form"]) if transition and transition["form"] else None
    data = step_items(form, entry.data) if with_data and form is not None else []
    return HistoryRow(entry, action,
                      state_label(programme, entry.from_state) if entry.from_state else "",
                      state_label(programme, entry.to_state), data)


def step_items(form: FormDef, data: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    """(field definition, value) pairs of step data, in the form's order."""
    return [(field, data[field["key"]]) for field in form.fields if data.get(field["key"])
            not in (None, "", [])]


def localised_label(item: dict[str, Any]) -> str:
    """A definition's label in the current language."""
    from app.i18n import localised

    return localised(item)


def state_label(programme: Programme, state: str) -> str:
    """A state's label in the current language."""
    return localised_label(programme.states[state]) if state in programme.states else state


def return_reason(programme: Programme, application: Application) -> AuditEntry | None:
    """The entry that sent the application back for correction, while it is editable again."""
    if not programme.editable(application.state) or not application.history:
        return None
    last = application.history[-1]
    if not (last.from_state and last.to_state == application.state and last.comment):
        return None
    if programme.states[application.state]["fill"] and not any(
            entry.to_state == application.state for entry in application.history[:-1]):
        return None  # a stage reached for the first time: its comment is no return
    return last


def opens_page(transition: dict[str, Any]) -> bool:
    """Moves with a step form or a required comment get their own page."""
    return bool(transition["form"]) or transition["comment"] == "required"


def review_sheets(application: Application) -> list[ReviewAssignment]:
    """Every expert's sheet on the entry, with its reopened versions (for city
    administrators)."""
    return list(db.session.scalars(select(ReviewAssignment).where(
        ReviewAssignment.application_id == application.id).order_by(ReviewAssignment.id)
        .options(selectinload(ReviewAssignment.revisions))))


def certificates(application: Application) -> list[Certificate]:
    """The certificates issued for the entry."""
    return list(db.session.scalars(select(Certificate).where(
        Certificate.application_id == application.id).order_by(Certificate.id)))


def assignable_experts(application: Application) -> list[User]:
    """Experts one may add to the entry's current round: active, of the call's pool (those who
    accepted, once there are invitations), not yet on it and not from its unit (回避)."""
    assigned = select(ReviewAssignment.expert_id).where(
        ReviewAssignment.application_id == application.id,
        ReviewAssignment.round == application.state)
    pool = pool_ids(application.call)
    return [u for u in db.session.scalars(select(User).where(
        User.role == Role.EXPERT, User.active.is_(True), User.org_id != application.org_id,
        User.id.not_in(assigned)).order_by(User.name, User.username))
        if pool is None or u.id in pool]


def back_link(user: User, application: Application) -> tuple[str, str]:
    """Where "back" goes for this role: its own list."""
    if user.role == Role.APPLICANT:
        return url_for("applicant.home"), _("My applications")
    if user.role == Role.DISTRICT_ADMIN:
        return url_for("district.home", call=application.call_id), _("District entries")
    if user.role == Role.EXPERT:
        return url_for("reviewer.queue"), _("My reviews")
    return url_for("admin.call", call_id=application.call_id), application.call.title


def detail_context(application: Application, user: User) -> dict[str, Any]:
    """Everything the detail page shows, for this viewer."""
    programme = programme_of(application)
    moves: list[Availability] = sorted(available_transitions(application, user),
                                       key=lambda m: STYLE_ORDER.get(m.transition["style"], 1))
    admin = can_administer(user)
    rubric = programme.review_rubric(application.state)
    return {
        "application": application, "programme": programme,
        "form_def": programme.form_shown(application),
        "stage_titles": "、".join(localised(section, "title") for section in
                                  programme.form_in(application.state).raw["sections"])
        if programme.states[application.state]["fill"] else None,
        "steps": steps(programme, application),
        "history": history(programme, application, user), "moves": moves,
        "opens_page": opens_page, "reason": return_reason(programme, application),
        "can_edit": can_edit_application(user, application),
        "sheets": review_sheets(application) if admin else [],
        "scores": entry_scores(application) if admin else None,
        "rubric": rubric,
        "experts": assignable_experts(application) if admin and rubric else [],
        "certificates": certificates(application), "back": back_link(user, application),
        "view": entry_view(application, user),
        "is_admin": admin,
    }
