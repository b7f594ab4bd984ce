"""Who may see and do what: the one place object-level access is decided."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select

from app.extensions import db
from app.models import Application, ReviewAssignment, Role, User
from app.models.reviews import INACTIVE


def is_assigned(user: User, application: Application) -> bool:
    """Whether an expert may see this entry: assigned, and no conflict of interest.

    When the programme asks experts to declare conflicts, the materials open only once the
    expert has confirmed having none; a declared conflict closes them for good.
    """
    from app.services.programmes import programme_of

    conditions = [ReviewAssignment.application_id == application.id,
                  ReviewAssignment.expert_id == user.id,
                  ReviewAssignment.status.not_in(INACTIVE)]
    if programme_of(application).workflow["reviews"]["declare_conflicts"]:
        conditions.append(ReviewAssignment.conflict_checked_at.is_not(None))
    return db.session.scalar(select(ReviewAssignment.id).where(*conditions).limit(1)) is not None


def assigned_entries(user: User) -> ColumnElement[bool]:
    """The list form of `is_assigned`: a condition on Application for the entries an expert
    may see (assigned, still on the panel, and no conflict where the programme asks)."""
    from app.services.programmes import programme_of

    active = (ReviewAssignment.expert_id == user.id, ReviewAssignment.status.not_in(INACTIVE))
    confirmed = select(ReviewAssignment.application_id).where(
        *active, ReviewAssignment.conflict_checked_at.is_not(None))
    unconfirmed = db.session.scalars(select(ReviewAssignment).where(
        *active, ReviewAssignment.conflict_checked_at.is_(None)))
    unasked = [sheet.application_id for sheet in unconfirmed
               if not programme_of(sheet.application).workflow["reviews"]["declare_conflicts"]]
    return Application.id.in_(confirmed) | Application.id.in_(unasked)


def in_scope(user: User, application: Application) -> bool:
    """Whether the application lies within the user's reach for their role."""
    if user.role == Role.CITY_ADMIN:
        return True
    if user.role == Role.DISTRICT_ADMIN:
        return user.district_id is not None and application.district_id == user.district_id
    if user.role == Role.APPLICANT:
        return application.applicant_id == user.id
    if user.role == Role.EXPERT:
        return is_assigned(user, application)
    return False


def can_view_application(user: User, application: Application) -> bool:
    """Whether the user may open the application and its attachments."""
    if user.role in (Role.DISTRICT_ADMIN, Role.CITY_ADMIN) and application.submitted_at is None:
        return False  # administrators see an entry from its first submission, never drafts
    return in_scope(user, application)


def can_edit_application(user: User, application: Application) -> bool:
    """Whether the user may change the form data now (owner, in an editable state)."""
    from app.services.programmes import programme_of

    return (user.role == Role.APPLICANT and application.applicant_id == user.id
            and programme_of(application).editable(application.state))


def can_see_step_data(user: User) -> bool:
    """Whether the user may read what was filled in when an entry was moved (a district's rank
    and opinion, a city's step form): everyone who may open the entry but its applicant."""
    return user.role != Role.APPLICANT


def can_administer(user: User) -> bool:
    """City administrators manage calls, assignments and decisions."""
    return user.role == Role.CITY_ADMIN

