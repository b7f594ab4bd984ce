"""What a viewer may see of an entry: in a blind round, experts do not learn who it is from.

An expert sees an entry blind when every round they are (actively) assigned to it in is blind:
the fields the form marks `identifying`, the applicant's unit, district and account, the
history (whose actors name the applicant) and the attachments' file names are withheld. A title
taken from an identifying field is replaced by a neutral one. Administrators always see all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.i18n import zh
from app.models import Application, Attachment, ReviewAssignment, Role, User
from app.models.reviews import INACTIVE
from app.services.programmes import programme_of


def blind_for(application: Application, viewer: User) -> bool:
    """Whether this viewer must see the entry without its identity."""
    return application.id in blind_entries([application], viewer)


def blind_entries(applications: list[Application], viewer: User) -> set[int]:
    """The ids of the applications this viewer must see blind (one query for a whole list)."""
    if viewer.role != Role.EXPERT or not applications:
        return set()
    rounds_of: dict[int, list[str]] = {}
    for application_id, name in db.session.execute(select(
            ReviewAssignment.application_id, ReviewAssignment.round).where(
            ReviewAssignment.application_id.in_([a.id for a in applications]),
            ReviewAssignment.expert_id == viewer.id,
            ReviewAssignment.status.not_in(INACTIVE))):
        rounds_of.setdefault(application_id, []).append(name)
    blind = set()
    for application in applications:
        names = rounds_of.get(application.id)
        rounds = programme_of(application).rounds
        if names and all(name in rounds and rounds[name].blind for name in names):
            blind.add(application.id)
    return blind


def entry_titles(applications: list[Application], viewer: User) -> dict[int, str]:
    """The title each application shows this viewer, by id (one query for a whole list)."""
    blind = blind_entries(applications, viewer)
    return {a.id: entry_title(a, a.id in blind) for a in applications}


def entry_title(application: Application, blind: bool) -> str:
    """The title to show: a neutral one when blind and the title names the applicant."""
    if not blind:
        return application.title
    programme = programme_of(application)
    hidden = {f["key"] for f in programme.application_form.fields if f.get("identifying")}
    title_field = programme.workflow["title_field"]
    if title_field not in hidden:
        return application.title
    return zh("匿名作品 %(number)s", number=f"{application.id:04d}")

@dataclass(frozen=True)
class EntryView:
    """An entry as one viewer may see it (everything, or blind)."""

    application: Application
    blind: bool
    title: str
    data: dict[str, Any]  # identifying fields removed when blind
    hidden: frozenset[str]  # the field keys withheld
    file_names: dict[int, str]  # attachment id → the name to show

    @property
    def unit(self) -> str | None:
        """The applicant's unit and district, or None when withheld."""
        if self.blind:
            return None
        application = self.application
        district = f" · {application.district.name}" if application.district else ""
        return f"{application.org.name}{district}"

    def file_name(self, attachment: Attachment) -> str:
        """The name to show for (and to download) an attachment."""
        return self.file_names.get(attachment.id, attachment.original_name)

    def withholds(self, attachment: Attachment) -> bool:
        """Whether the attachment is withheld: a file of an identifying field, seen blind."""
        return attachment.field_key in self.hidden

    @property
    def attachments(self) -> list[Attachment]:
        """The attachments the viewer may list and download."""
        return [a for a in self.application.attachments if not self.withholds(a)]

def entry_view(application: Application, viewer: User) -> EntryView:
    """The entry as the viewer may see it."""
    names = {a.id: a.original_name for a in application.attachments}
    if not blind_for(application, viewer):
        return EntryView(application, False, application.title, dict(application.data or {}),
                         frozenset(), names)
    form = programme_of(application).application_form
    hidden = frozenset(f["key"] for f in form.fields if f.get("identifying"))
    data = {k: v for k, v in (application.data or {}).items() if k not in hidden}
    return EntryView(application, True, entry_title(application, True), data, hidden,
                     _neutral_names(application, form))

def _neutral_names(application: Application, form: Any) -> dict[int, str]:
    """File names made of the field's label and a number, keeping the extension."""
    labels = {f["key"]: f["label"] for f in form.fields}
    names, counts = {}, dict.fromkeys(labels, 0)
    for attachment in sorted(application.attachments, key=lambda a: a.id):
        key = attachment.field_key
        counts[key] = counts.get(key, 0) + 1
        suffix = PurePosixPath(attachment.original_name).suffix.lower()
        suffix = suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""
        label = labels.get(key, "附件")
        names[attachment.id] = f"{label}-{counts[key]}{suffix}" if counts[key] > 1 \
            else f"{label}{suffix}"
    return names
