"""Forms of the city administrator's pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Optional

from app.models import Organisation
from app.services.programmes import catalogue
from app.web.dynamic_forms import choice

LOCAL = ZoneInfo("Asia/Shanghai")
QUOTA_PREFIX = "quota_"
MINIMUM_PREFIX = "minimum_"


class CallForm(FlaskForm):
    """A new call: programme, title, year, dates in Beijing time, quota per district.

    The rules (dates in order, quotas not negative...) are checked by services.calls;
    the form only parses what was typed.
    """

    programme = SelectField(_l("Programme"))
    title = StringField(_l("Title"), render_kw={"maxlength": 200})
    year = IntegerField(_l("Year"), validators=[InputRequired()])
    opens_at = DateTimeLocalField(_l("Opens (Beijing time)"), format="%Y-%m-%dT%H:%M",
                                  validators=[InputRequired()])
    closes_at = DateTimeLocalField(_l("Closes (Beijing time)"), format="%Y-%m-%dT%H:%M",
                                   validators=[InputRequired()])
    description = TextAreaField(_l("Notes for applicants"), render_kw={"maxlength": 2000})

    def quota_fields(self) -> list[Any]:
        """The quota inputs, one per district, in order."""
        return [f for f in self if f.name.startswith(QUOTA_PREFIX)]

    def quotas(self) -> dict[str, int]:
        """District code → quota, for the districts given one (blank means no limit)."""
        return {f.name.removeprefix(QUOTA_PREFIX): f.data for f in self.quota_fields()
                if f.data is not None}

    def minimum_fields(self) -> list[Any]:
        """The minimum inputs, one per district, in order."""
        return [f for f in self if f.name.startswith(MINIMUM_PREFIX)]

    def minimums(self) -> dict[str, int]:
        """District code → minimum, for the districts given one (blank means none)."""
        return {f.name.removeprefix(MINIMUM_PREFIX): f.data for f in self.minimum_fields()
                if f.data is not None}


def call_form(districts: list[Organisation]) -> CallForm:
    """A call form with one quota input per district (districts are data, so built here)."""
    attrs = {f"{QUOTA_PREFIX}{d.code}": IntegerField(
        d.name, validators=[Optional()], render_kw={"min": 0, "inputmode": "numeric"})
        for d in districts}
    attrs |= {f"{MINIMUM_PREFIX}{d.code}": IntegerField(
        d.name, validators=[Optional()], render_kw={"min": 1, "inputmode": "numeric"})
        for d in districts}
    form = type("CallFormWithQuotas", (CallForm,), attrs)()
    form.programme.choices = [choice(key, p.title) for key, p in sorted(catalogue().items())]
    if not form.is_submitted():
        now = datetime.now(LOCAL).replace(second=0, microsecond=0, tzinfo=None)
        form.year.data = now.year
        form.opens_at.data = now
        form.closes_at.data = now + timedelta(days=30)
    return form


def as_utc(moment: datetime) -> datetime:
    """A Beijing wall-clock time typed in a form, as an aware UTC datetime."""
    return moment.replace(tzinfo=LOCAL).astimezone(UTC)
