"""WTForms classes built at run time from form definitions (forms/*.yaml).

The classes only collect and redisplay input: they carry no validators, because the one
validation of form data is app/engine/formdata.py, called by the services. What the user
typed is always kept (raw input survives a failed save), and the service's messages are put
back beside the fields with `apply_errors`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget, TelInput

from app.engine.definitions import FormDef, Programme
from app.engine.formdata import plain_number
from app.i18n import localised

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice
    from wtforms import SelectChoice as _SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    _SelectChoice = None


def choice(value: str, label: Any) -> Any:
    """One option of a select, radio or checkbox list, for any WTForms 3.x."""
    return _SelectChoice(value, label) if _SelectChoice else (value, label)

EMPTY: tuple[Any, ...] = (None, "", [], False)
# Names the forms built on DynamicForm use for their own controls; definition keys avoid them.
CONTROL_FIELDS = {"expected_version", "comment"}
BLANK_ROWS = 1  # blank table rows offered below the filled ones (more come with "add a row")
MIN_ROWS_SHOWN = 3


class Localised:
    """A definition label that is read in the current language each time it is shown."""

    def __init__(self, item: dict[str, Any], key: str = "label") -> None:
        """Remember the definition item and which of its texts to show."""
        self.item, self.key = item, key

    def __str__(self) -> str:
        """The label in the current language (escaped by whoever renders it)."""
        return localised(self.item, self.key)


class DynamicForm(FlaskForm):
    """Base of generated forms: look fields up by definition key, make blank table rows."""

    row_forms: dict[str, type[Form]] = {}

    def field_for(self, key: str) -> Any:
        """The WTForms field of a definition field key."""
        return self[attr_name(key)]

    def blank_row(self, key: str) -> Form:
        """A row form named with `__index__`, used as the <template> of a table field."""
        return self.row_forms[key](prefix=f"{self.field_for(key).name}-__index__-")

    def pad_tables(self, form_def: FormDef) -> None:
        """Offer blank rows below the filled ones in every table field."""
        for field in form_def.fields:
            if field["type"] == "table":
                rows = self.field_for(field["key"])
                wanted = max(len(rows.entries) + BLANK_ROWS, MIN_ROWS_SHOWN)
                while len(rows.entries) < min(wanted, field["max_rows"]):
                    rows.append_entry()


_CACHE: dict[tuple[str, int, str, type], type[DynamicForm]] = {}


def form_class(programme: Programme, form: str | FormDef | None,
               base: type[DynamicForm] = DynamicForm) -> type[DynamicForm]:
    """The form class for one form of a programme version, given by key or as the part of the
    application form a state fills in (cached; versions never change)."""
    if form is None:
        return base
    form_def = form if isinstance(form, FormDef) else programme.forms[form]
    cache_key = (programme.key, programme.version, form_def.key, base)
    if cache_key not in _CACHE:
        attrs: dict[str, Any] = {"row_forms": {}}
        for field in form_def.fields:
            attrs[attr_name(field["key"])] = make_field(field, attrs["row_forms"])
        _CACHE[cache_key] = type(f"{form_def.key.replace('@', '_')}_form", (base,), attrs)
    return _CACHE[cache_key]


def attr_name(key: str, base: type = DynamicForm) -> str:
    """The attribute a definition key lives under (keys that clash with the form get a _)."""
    clash = hasattr(base, key) or (base is DynamicForm and key in CONTROL_FIELDS)
    return f"{key}_" if clash else key


def field_attrs(wtfield: Any, field: dict[str, Any]) -> dict[str, str]:
    """ARIA attributes tying an input to its help text and its error (template global)."""
    ids = [f"{wtfield.id}-error"] if wtfield.errors else []
    if field.get("help"):
        ids.append(f"{wtfield.id}-help")
    attrs = {"aria-describedby": " ".join(ids)} if ids else {}
    if wtfield.errors:
        attrs["aria-invalid"] = "true"
    return attrs


def version_of(form: DynamicForm) -> int | None:
    """The row version the page was rendered with (hidden field `expected_version`)."""
    raw = getattr(form, "expected_version", None)
    value = getattr(raw, "data", None)
    return int(value) if isinstance(value, str | int) and str(value).isdigit() else None


def make_field(field: dict[str, Any], row_forms: dict[str, type[Form]]) -> Any:
    """An unbound WTForms field for one definition field."""
    label = Localised(field)
    kind = field["type"]
    render_kw = _render_kw(field)
    if kind == "table":
        row_forms[field["key"]] = _row_form(field)
        return FieldList(FormField(row_forms[field["key"]]), label=label)
    if kind in {"choice", "multi_choice"}:
        choices = [choice(c["value"], Localised(c)) for c in field["choices"]]
        if kind == "multi_choice":
            return SelectMultipleField(label, choices=choices, validate_choice=False,
                                       widget=ListWidget(prefix_label=False),
                                       option_widget=CheckboxInput(), render_kw=render_kw)
        if field.get("widget") == "radio":
            return RadioField(label, choices=choices, validate_choice=False, render_kw=render_kw)
        return SelectField(label, choices=[choice("", _l("— Choose —")), *choices],
                           validate_choice=False, render_kw=render_kw)
    if kind == "file":
        kind_class = MultipleFileField if field["multiple"] else FileField
        return kind_class(label, render_kw=render_kw)
    field_class, extra = FIELD_CLASSES[kind]
    return field_class(label, render_kw=render_kw, **extra)


FIELD_CLASSES: dict[str, tuple[type, dict[str, Any]]] = {
    "text": (StringField, {}),
    "textarea": (TextAreaField, {}),
    "integer": (IntegerField, {}),
    "decimal": (DecimalField, {"places": None}),
    "date": (DateField, {}),
    "boolean": (BooleanField, {}),
    "phone": (StringField, {"widget": TelInput()}),
    "email": (EmailField, {}),
    "id_number": (StringField, {}),
}


def _render_kw(field: dict[str, Any]) -> dict[str, Any]:
    """HTML attributes that help the browser (length, bounds, keyboards); never enforced here."""
    kind = field["type"]
    attrs: dict[str, Any] = {}
    if field.get("placeholder"):
        attrs["placeholder"] = field["placeholder"]
    if kind in {"text", "textarea"}:
        attrs["maxlength"] = field["max_length"]
    elif kind in {"integer", "decimal"}:
        attrs.update({k: plain_number(field[k]) for k in ("min", "max") if field[k] is not None})
        attrs["step"] = 1 if kind == "integer" else f"{Decimal(1).scaleb(-field['places'])}"
        attrs["inputmode"] = "numeric" if kind == "integer" else "decimal"
    elif kind == "phone":
        attrs.update(autocomplete="tel", inputmode="tel")
    elif kind == "email":
        attrs["autocomplete"] = "email"
    elif kind == "id_number":
        attrs.update(maxlength=18, autocomplete="off", spellcheck="false")
    elif kind == "file":
        attrs["accept"] = ",".join(f".{ext}" for ext in field["accept"])
        if field["multiple"]:
            attrs["multiple"] = True
    return attrs


def _row_form(field: dict[str, Any]) -> type[Form]:
    """The form of one row of a table field (a plain Form: the outer form carries CSRF)."""
    attrs = {attr_name(c["key"], Form): make_field(c, {}) for c in field["columns"]}
    return type(f"{field['key']}_row", (Form,), attrs)



def form_to_data(form_def: FormDef, wtform: DynamicForm) -> dict[str, Any]:
    """Read the submitted values as JSON-ready data for the services (files excluded).

    Empty inputs become None (which clears the stored value); input that does not parse
    is passed on as typed, so the engine's validation explains what is wrong with it.
    """
    data: dict[str, Any] = {}
    for field in form_def.fields:
        if field["type"] == "file":
            continue
        wtfield = wtform.field_for(field["key"])
        if field["type"] == "table":
            data[field["key"]] = _rows(field, wtfield)
        else:
            data[field["key"]] = _value(field, wtfield)
    return data


def _rows(field: dict[str, Any], wtfield: Any) -> list[dict[str, Any]] | None:
    """The filled rows of a table field; rows left empty are dropped."""
    rows = []
    for entry in wtfield.entries:
        row = {c["key"]: _value(c, entry.form[attr_name(c["key"], Form)])
               for c in field["columns"]}
        if any(value not in EMPTY for value in row.values()):
            rows.append(row)
    return rows or None


def _value(field: dict[str, Any], wtfield: Any) -> Any:
    """One field's value: typed data when it parsed, else the raw text."""
    kind = field["type"]
    if kind == "boolean":
        return bool(wtfield.data)
    if kind == "multi_choice":
        return list(wtfield.data or []) or None
    raw = wtfield.raw_data[0] if wtfield.raw_data else None
    if isinstance(raw, str) and not raw.strip():
        return None
    value = wtfield.data
    if kind in {"integer", "decimal", "date"} and value is None and raw is not None:
        return raw.strip()  # did not parse: let the engine say why, in Chinese
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str):
        return value.strip() or None
    return value


def apply_errors(wtform: DynamicForm, errors: dict[str, Any]) -> dict[str, Any]:
    """Put service messages beside their fields; return those that match no field."""
    unplaced = {}
    for key, message in errors.items():
        name = attr_name(str(key))
        if name in wtform._fields:
            wtform[name].errors = [str(message)]
        else:
            unplaced[key] = message
    return unplaced


def prefill(form_def: FormDef, data: dict[str, Any] | None) -> dict[str, Any]:
    """Turn stored JSON data into the values WTForms fields expect (dates, decimals, rows)."""
    values: dict[str, Any] = {}
    for field in form_def.fields:
        value = (data or {}).get(field["key"])
        if field["type"] == "file" or value is None:
            continue
        name = attr_name(field["key"])
        if field["type"] == "table":
            values[name] = [{attr_name(c["key"], Form): _typed(c, row.get(c["key"]))
                             for c in field["columns"]} for row in value]
        else:
            values[name] = _typed(field, value)
    return values


def _typed(field: dict[str, Any], value: Any) -> Any:
    """A stored value converted for its WTForms field."""
    if value is None:
        return None
    try:
        if field["type"] == "date":
            return date.fromisoformat(str(value))
        if field["type"] == "decimal":
            return Decimal(str(value))
    except (ValueError, InvalidOperation):
        return None
    return value
