"""Forms of the people pages: a user's profile, an organisation. The rules live in the
services (accounts, people); the forms only carry what was typed."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length

from app.i18n import role_label
from app.models import OrgKind, Role

EXPERTISE_SPLIT = re.compile(r"[、，,;；\n]")


class UserForm(FlaskForm):
    """A user's name, contact details, role, organisation and expert profile."""

    name = StringField(_l("Person's name"), validators=[Length(max=100)])
    role = SelectField(_l("Role"))
    org = StringField(_l("Organisation code"), validators=[InputRequired(), Length(max=40)])
    email = StringField(_l("E-mail"), validators=[Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Length(max=30)])
    title = StringField(_l("Professional title"), validators=[Length(max=100)])
    expertise = StringField(_l("Expertise"), validators=[Length(max=700)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Offer the roles by their names in the current language."""
        super().__init__(*args, **kwargs)
        self.role.choices = [(r.value, role_label(r.value)) for r in Role]

    def tags(self) -> list[str]:
        """The expertise typed, as tags."""
        return [t for t in EXPERTISE_SPLIT.split(self.expertise.data or "") if t.strip()]


class NewOrganisationForm(FlaskForm):
    """An organisation to add under a parent."""

    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=40)])
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    kind = SelectField(_l("Level"))
    parent = StringField(_l("Parent organisation code"), validators=[Length(max=40)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Offer the levels of the tree."""
        super().__init__(*args, **kwargs)
        self.kind.choices = [(k.value, kind_label(k.value)) for k in OrgKind]


class OrganisationForm(FlaskForm):
    """An organisation's new name or parent."""

    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    parent = StringField(_l("Parent organisation code"), validators=[Length(max=40)])


def kind_label(kind: str) -> str:
    """A level of the tree for people, in the current language."""
    from flask_babel import gettext as _

    labels = {"city": _("City"), "district": _("County or district"), "street": _("Street or town"),
              "unit": _("Unit")}
    return labels.get(kind, kind)
