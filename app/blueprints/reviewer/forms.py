"""The score sheet form, built from a rubric's leaf criteria."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, RadioField, SelectMultipleField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from app.engine.definitions import RubricDef
from app.web.dynamic_forms import Localised, choice

PREFIX = "criterion_"
_CACHE: dict[tuple[str, str], type[ScoreForm]] = {}


class ConflictForm(FlaskForm):
    """Before the materials open: no conflict of interest, or a declared one with its reason."""

    answer = RadioField(_l("Conflict of interest"), choices=[
        choice("none", _l("I have no conflict of interest with this entry")),
        choice("declare", _l("I have a conflict of interest and withdraw from this entry")),
    ], default="none", validate_choice=False)
    reason = TextAreaField(_l("Reason (required when you declare a conflict)"),
                           render_kw={"maxlength": 500, "rows": 3})


class ScoreForm(FlaskForm):
    """Points per criterion and a comment; the limits are checked by services.reviews."""

    comment = TextAreaField(_l("Review comment"), render_kw={"maxlength": 2000, "rows": 5})

    def veto_keys(self) -> list[str]:
        """The veto items the expert checked (none when the rubric has no veto items)."""
        field = self._fields.get("vetoes")
        return list(field.data or []) if field is not None else []

    def criterion(self, key: str) -> Any:
        """The input of one criterion."""
        return self[PREFIX + key]

    def scores(self, rubric: RubricDef) -> dict[str, Any]:
        """The points as typed (blank → None), for save_review to check."""
        result = {}
        for leaf in rubric.leaves:
            field = self.criterion(leaf["key"])
            raw = field.raw_data[0].strip() if field.raw_data else ""
            result[leaf["key"]] = raw or None
        return result


def score_form_class(rubric: RubricDef, cache_key: str) -> type[ScoreForm]:
    """The form class of a rubric (cached per programme version and rubric)."""
    key = (cache_key, rubric.raw["key"])
    if key not in _CACHE:
        attrs = {PREFIX + leaf["key"]: DecimalField(
            Localised(leaf), places=None,
            render_kw={"min": 0, "max": leaf["max"], "step": "0.5", "inputmode": "decimal",
                       "data-score": ""})
            for leaf in rubric.leaves}
        if rubric.raw["vetoes"]:
            attrs["vetoes"] = SelectMultipleField(
                _l("Veto items (一票否决): check any that apply"),
                choices=[choice(v["key"], Localised(v)) for v in rubric.raw["vetoes"]],
                widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
                validate_choice=False)
        _CACHE[key] = type(f"{rubric.raw['key']}_sheet", (ScoreForm,), attrs)
    return _CACHE[key]
