"""A population of objects owned by different users, for the object sweep and the marker crawl.

Two sides, WJ and TN, each with an applicant (wj1, tn1), a district administrator and an expert
(expert1 reviews WJ's entries, expert2 TN's). Each applicant has four entries of one call: a draft,
one awaiting the district, one in city review (a pending sheet), one in public notice (scored, an
objection raised) and one named (its certificate issued). Around them: invitations, panels,
export jobs of the city and of each district, and the notifications the moves sent.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, Certificate, Job, ReviewAssignment, Role, User
from app.models.base import utcnow
from app.models.notifications import Notification, OutboxMessage
from app.services.applications import EntryFilter, create_application
from app.services.attachments import store_attachment
from app.services.calls import open_call
from app.services.certificate_jobs import start_print_job
from app.services.demo import SAMPLE_PDF, team_data
from app.services.dossier_jobs import start_dossier_job
from app.services.export_jobs import start_applications_job
from app.services.invitations import invite
from app.services.objections import submit_objection
from app.services.panels import create_panel
from app.services.reviews import assign_expert, save_review
from tests.conftest import TEAM_SCORES, confirmed

SIDES = {"wj": ("wj1", "wj_admin", "expert1"), "tn": ("tn1", "tn_admin", "expert2")}
STAGES = ("draft", "district", "review", "notice", "named")
# Who a request is made as: every role of both sides, a second WJ applicant, the city, nobody.
REQUESTERS = ("anon", "wj1", "wj2", "tn1", "wj_admin", "tn_admin", "expert1", "expert2", "city")


@dataclass
class Population:
    """The objects, by side and stage, and the other things the sweep substitutes."""

    call: Any
    users: dict[str, User]
    entries: dict[tuple[str, str], Application] = field(default_factory=dict)
    sheets: dict[tuple[str, str], ReviewAssignment] = field(default_factory=dict)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    objections: dict[str, Any] = field(default_factory=dict)
    invitations: dict[str, Any] = field(default_factory=dict)
    panels: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    notifications: dict[str, Notification] = field(default_factory=dict)
    messages: list[OutboxMessage] = field(default_factory=list)


def build(world: dict[str, Any], data: dict[tuple[str, str], dict[str, Any]] | None = None,
          opinion: str = "推荐", comment: str = "",
          objector: tuple[str, str] = ("异议人", "13900000000")) -> Population:
    """Create the population in a call of its own (quotas large enough for every stage).

    The rest set what the marker crawl seeds: form data per (side, stage); on WJ's entries
    only, the district's recommendation opinion, the expert's comment, the objector's name and
    contact.
    """
    users = world["users"]
    now = utcnow()
    call = open_call("excellent_team", "对象遍历测试批次", 2026, now - timedelta(days=1),
                     now + timedelta(days=30), {"WJ": 5, "TN": 5}, users["city"])
    found = Population(call=call, users=users)
    for side in SIDES:
        for stage in STAGES:
            seeds = Seeds(opinion, comment, objector) if side == "wj" else PLAIN
            found.entries[side, stage] = _entry(found, side, stage, (data or {}).get(
                (side, stage), {}), seeds)
    for side, (_applicant, _admin, expert) in SIDES.items():
        found.panels[side] = create_panel(call, "city_review", f"{side}组", users[expert],
                                          [users[expert]], users["city"])
    invitations = invite(call, [users["expert1"], users["expert2"]], users["city"])
    for side, (_applicant, _admin, expert) in SIDES.items():
        found.invitations[side] = next(i for i in invitations if i.expert_id == users[expert].id)
    db.session.commit()
    _jobs(found)
    for name in REQUESTERS[1:]:
        found.notifications[name] = db.session.scalars(
            select(Notification).where(Notification.user_id == users[name].id)
            .order_by(Notification.id)).first() or _notification(users[name])
    found.messages = list(db.session.scalars(select(OutboxMessage).limit(3)))
    db.session.commit()
    return found


@dataclass
class Seeds:
    """What the districts, experts and objectors write on every entry."""

    opinion: str
    comment: str
    objector: tuple[str, str]


PLAIN = Seeds("推荐", "", ("异议人", "13900000000"))


def _entry(found: Population, side: str, stage: str, extra: dict[str, Any],
           seeds: Seeds) -> Application:
    """One entry of ``side`` taken to ``stage``, with its sheet, objection or certificate."""
    applicant, admin, expert = (found.users[name] for name in SIDES[side])
    city = found.users["city"]
    entry = create_application(found.call, applicant, {
        **team_data(f"{side}-{stage}队", "某中心", "张三"), **extra})
    store_attachment(entry, "charter", f"{side}-{stage}章程.pdf", io.BytesIO(SAMPLE_PDF),
                     applicant)
    if stage == "draft":
        return entry
    fire(entry, "submit", applicant)
    if stage == "district":
        return entry
    fire(entry, "recommend", admin, data={"rank": 1, "opinion": seeds.opinion})
    sheet = confirmed(assign_expert(entry, expert, city))
    found.sheets[side, stage] = sheet
    if stage == "review":
        return entry
    save_review(sheet, expert, TEAM_SCORES, seeds.comment, submit=True)
    fire(entry, "publish_notice", city)
    if stage == "notice":
        found.objections[side] = submit_objection(
            entry, *seeds.objector, "公示材料与事实不符，请核实。",
            ("证据.pdf", io.BytesIO(SAMPLE_PDF)), "")
        return entry
    fire(entry, "name_team", city)
    db.session.flush()
    found.certificates[side] = db.session.scalars(
        select(Certificate).where(Certificate.application_id == entry.id)).one()
    return entry


def _jobs(found: Population) -> None:
    """Export jobs of the city and of each district (they run at once in tests)."""
    users, call = found.users, found.call
    found.jobs["city"] = start_dossier_job(call, users["city"])
    found.jobs["wj"] = start_dossier_job(call, users["wj_admin"])
    found.jobs["tn"] = start_applications_job(call, users["tn_admin"], EntryFilter())
    found.jobs["print"] = start_print_job(call, users["city"])
    db.session.commit()


def _notification(user: User) -> Notification:
    """A notification for a user the moves did not write to."""
    note = Notification(user_id=user.id, event="submitted", subject="通知", body="正文")
    db.session.add(note)
    db.session.flush()
    return note


# ---- who a requester is, relative to an object: a column of the route matrix, or None --------

def generic_column(user: User | None) -> str:
    """The matrix column of a user for objects that belong to nobody in particular."""
    if user is None:
        return "anon"
    return {Role.CITY_ADMIN: "city", Role.DISTRICT_ADMIN: "district",
            Role.APPLICANT: "applicant", Role.EXPERT: "other_expert"}[user.role]


def entry_column(user: User | None, entry: Application) -> str:
    """The matrix column of a user for an entry: owner, district, assigned expert..."""
    if user is None or user.role == Role.CITY_ADMIN:
        return generic_column(user)
    if user.role == Role.APPLICANT:
        return "owner" if entry.applicant_id == user.id else "applicant"
    if user.role == Role.DISTRICT_ADMIN:
        return "district" if entry.district_id == user.district_id else "other_district"
    assigned = db.session.scalar(select(ReviewAssignment.id).where(
        ReviewAssignment.application_id == entry.id, ReviewAssignment.expert_id == user.id))
    return "expert" if assigned else "other_expert"


def sheet_column(user: User | None, sheet: ReviewAssignment) -> str:
    """For a score sheet only its own expert is "expert"; the rest as for its entry."""
    if user is not None and user.role == Role.EXPERT:
        return "expert" if sheet.expert_id == user.id else "other_expert"
    return entry_column(user, sheet.application)


def panel_column(user: User | None, panel: Any) -> str:
    """A panel's members are "expert" for it; other experts are not."""
    if user is not None and user.role == Role.EXPERT:
        members = {member.expert_id for member in panel.members}
        return "expert" if user.id in members else "other_expert"
    return generic_column(user)


def personal_column(user: User | None, owner_id: int) -> str | None:
    """Things addressed to one user (a notification, an invitation): None for anyone else."""
    if user is not None and user.id != owner_id:
        return None
    return "expert" if user is not None and user.role == Role.EXPERT else generic_column(user)


def job_column(user: User | None, job: Job) -> str | None:
    """An export job is the city's, and its district's when a district started it."""
    if user is not None and user.role == Role.DISTRICT_ADMIN:
        return "district" if job.options.get("district_id") == user.district_id else None
    return generic_column(user)
