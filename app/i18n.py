"""Language choice: Chinese first, English when the user asks for it."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, request

COOKIE = "lang"


def select_locale() -> str:
    """Pick the locale from ?lang=, then the language cookie, else Chinese (also outside a
    request: the CLI and the background worker speak Chinese)."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    for candidate in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if candidate in languages:
            return str(candidate)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def localised(item: dict, key: str = "label") -> str:  # type: ignore[type-arg]
    """A definition's label in the current language (the `_en` variant when English)."""
    from flask_babel import get_locale

    locale = get_locale()
    if locale is not None and locale.language == "en" and item.get(f"{key}_en"):
        return str(item[f"{key}_en"])
    return str(item.get(key, ""))


def role_label(role: str) -> str:
    """A role's name for people, in the current language."""
    from flask_babel import gettext as _

    labels: dict[str, str] = {
        "applicant": _("Applicant"), "district_admin": _("District administrator"),
        "city_admin": _("City administrator"), "expert": _("Expert"),
    }
    return labels.get(role, role)


def round_label(review_round: Any) -> str:
    """A review round's label in the current language."""
    return localised({"label": review_round.label, "label_en": review_round.label_en})
