"""Language choice: Chinese first, English when the user asks for it."""

from __future__ import annotations

from flask import current_app, request

COOKIE = "lang"


def select_locale() -> str:
    """Pick the locale from ?lang=, then the language cookie, else Chinese."""
    languages = current_app.config["LANGUAGES"]
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
