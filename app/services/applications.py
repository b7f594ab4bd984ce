"""Creating applications and changing their form data (only the engine moves state)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from app.engine.errors import Conflict, Forbidden, GuardsFailed, ValidationFailed
from app.engine.formdata import clean_data
from app.extensions import db
from app.i18n import zh
from app.models import Application, AuditEntry, Call, Organisation, Role, User
from app.models.base import contains, utcnow
from app.permissions import assigned_entries, can_edit_application
from app.services.programmes import current_programme, programme_of, record_version


def create_application(call: Call, applicant: User, data: dict[str, Any] | None = None,
                       now: datetime | None = None, *, key: str | None = None) -> Application:
    """Start a draft in an open call, pinned to the programme version current now.

    With ``key`` (an idempotency key the client chose), a second start with the same key by the
    same applicant returns the first draft instead of a new one, also when both arrive at once:
    the unique key decides, so it holds across processes.
    """
    if key is not None and (earlier := _started_with(applicant, key)) is not None:
        return _same_call(earlier, call)
    now = now or utcnow()
    if applicant.role != Role.APPLICANT:
        raise Forbidden(zh("只有申报人可以创建申报"))
    if not call.is_open(now):
        raise GuardsFailed(zh("该批次当前不接受申报"), {"reasons": [zh("不在申报时间内")]})
    programme = current_programme(call.programme_key)
    version = record_version(programme)
    application = Application(call=call, programme_version_id=version.id, applicant=applicant,
                              org_id=applicant.org_id, district_id=applicant.org.district_id,
                              state=programme.initial, data={}, step_data={},
                              idempotency_key=key)
    try:
        with db.session.begin_nested():  # a lost race undoes only this insert
            db.session.add(application)
            _apply_data(application, data or {})
            db.session.flush()
    except IntegrityError:
        earlier = _started_with(applicant, key) if key is not None else None
        if earlier is None:
            raise
        return _same_call(earlier, call)  # the same request, started meanwhile by another
    db.session.add(AuditEntry(application=application, actor=applicant, at=now, trigger="create",
                              from_state=None, to_state=programme.initial,
                              definition_version=programme.version))
    return application


def _started_with(applicant: User, key: str) -> Application | None:
    """The applicant's entry started with this idempotency key, if any."""
    return db.session.scalar(select(Application).where(
        Application.applicant_id == applicant.id, Application.idempotency_key == key))


def _same_call(earlier: Application, call: Call) -> Application:
    """The entry an idempotency key already started, provided it was for the same call."""
    if earlier.call_id != call.id:
        raise ValidationFailed(zh("此幂等键已用于另一批次的申报，请为新的申报使用新的键"),
                               {"idempotency_key": zh("已用于另一批次")})
    return earlier


def update_data(application: Application, actor: User, data: dict[str, Any],
                expected_version: int | None = None) -> Application:
    """Merge new values into the form (a None value clears a field); drafts are never lost."""
    if not can_edit_application(actor, application):
        raise Forbidden(zh("当前状态下不能修改申报内容"))
    if expected_version is not None and expected_version != application.version:
        raise Conflict(zh("该申报已在别处被修改，请刷新后再保存"), {"version": application.version})
    _apply_data(application, data)
    db.session.flush()
    return application


def _apply_data(application: Application, data: dict[str, Any]) -> None:
    """Validate and merge form data, and keep the entry's title in step with its title field."""
    programme = programme_of(application)
    form = programme.form_in(application.state)
    clean, errors = clean_data(form, data)
    for key in errors:
        if key not in form.by_key and key in programme.application_form.by_key:
            errors[key] = zh("当前阶段不能修改此项")
    if errors:
        raise ValidationFailed(zh("表单填写有误，请检查标出的字段"), errors)
    merged = {**(application.data or {}), **clean}
    application.data = {k: v for k, v in merged.items() if v is not None}
    title_field = programme.workflow["title_field"]
    application.title = str(application.data.get(title_field) or "")[:300]


def visible_applications(user: User) -> Select[Any]:
    """A query of the applications a user may list, newest first."""
    query = select(Application).order_by(Application.id.desc())
    if user.role == Role.CITY_ADMIN:
        return query.where(Application.submitted_at.is_not(None))
    if user.role == Role.DISTRICT_ADMIN:
        return query.where(Application.district_id == user.district_id,
                           Application.submitted_at.is_not(None))
    if user.role == Role.APPLICANT:
        return query.where(Application.applicant_id == user.id)
    return query.where(assigned_entries(user))  # the same entries an expert may open


ENTRY_SORTS = {  # sort name → the order of a call's entries (ties broken by entry number)
    "district": (Application.district_id, Application.submitted_at),
    "submitted": (Application.submitted_at,),
    "-submitted": (Application.submitted_at.desc(),),
    "updated": (Application.updated_at,),
    "-updated": (Application.updated_at.desc(),),
    "title": (Application.title,),
    "state": (Application.state, Application.submitted_at),
}


@dataclass(frozen=True)
class EntryFilter:
    """What a call's entries list is narrowed to, and its order (as the call page asks)."""

    state: str = ""
    district_id: int | None = None
    q: str = ""
    sort: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The filter as plain values (kept with a background export job)."""
        return asdict(self)


def call_entries(call: Call, viewer: User, chosen: EntryFilter = EntryFilter()) -> Select[Any]:
    """The entries of ``call`` that ``viewer`` may list, narrowed to a state, a district and
    a text in the title or the unit's name, in the order ``chosen.sort`` names (by district,
    then submission, by default)."""
    order = ENTRY_SORTS.get(chosen.sort, ENTRY_SORTS["district"])
    query = (visible_applications(viewer).where(Application.call_id == call.id)
             .order_by(None).order_by(*order, Application.id))
    if chosen.state:
        query = query.where(Application.state == chosen.state)
    if chosen.district_id:
        query = query.where(Application.district_id == chosen.district_id)
    if needle := chosen.q.strip():
        units = select(Organisation.id).where(contains(Organisation.name, needle))
        query = query.where(contains(Application.title, needle) | Application.org_id.in_(units))
    return query
