"""Language choice: Chinese first, English when the user asks for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app, has_request_context, request
from flask_babel import Domain, force_locale, get_locale

COOKIE = "lang"
LOCALES = ("zh_CN", "en")  # what users.locale may hold

#: Messages the server makes (errors, refusal reasons, field messages) are written in Chinese and
#: translated to English in this domain (app/translations/en/LC_MESSAGES/server.po).
SERVER = Domain(domain="server")


def zh(message: str, /, **values: Any) -> str:
    """A message written in Chinese with %(name)s placeholders: in English from the `server`
    catalogue when the reader reads English — the person making the request, or inside
    `writing_to(user)` that user — else Chinese (also outside a request)."""
    text = str(SERVER.gettext(message))
    return text % values if values else text


def zh_mark(message: str) -> str:
    """Mark a Chinese message for the `server` catalogue without translating it yet (module
    constants); translate it where it is shown with `zh(constant)`. (Not named `N_`: pybabel
    extracts that default keyword into the UI catalogue.)"""
    return message


def english() -> bool:
    """Whether the current reader reads English: the request's, or the user `writing_to`
    writes to (outside a request and without it: Chinese)."""
    locale = get_locale()
    return locale is not None and locale.language == "en"


@contextmanager
def writing_to(user: Any) -> Iterator[None]:
    """Write to ``user`` in their own language (``users.locale``) rather than the request's:
    for what they read when they are not there — inbox messages, e-mail, reminders. `zh()`,
    `localised()`, `english()` and flask_babel's `_()` follow it, also in the worker."""
    locale = getattr(user, "locale", None)
    with force_locale(locale if locale in LOCALES else LOCALES[0]):
        yield


ENGLISH_SEPARATORS = {"、": ", ", "；": "; ", "，": ", ", "：": ": "}


def joined(parts: Any, separator: str = "、") -> str:
    """Items joined with a Chinese separator (、 or ；), or its English counterpart (", ",
    "; ") when the reader reads English."""
    if english():
        separator = ENGLISH_SEPARATORS.get(separator, separator)
    return separator.join(map(str, parts))


def select_locale() -> str:
    """Pick the locale from ?lang=, then the language cookie, then (API requests only) the
    Accept-Language header, else Chinese (also outside a request: the CLI and the background
    worker speak Chinese). Pages ignore Accept-Language: they are Chinese unless switched."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    for candidate in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if candidate in languages:
            return str(candidate)
    if request.path.startswith("/api/"):
        best = request.accept_languages.best_match(languages)
        if best:
            return str(best)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def localised(item: dict, key: str = "label") -> str:  # type: ignore[type-arg]
    """A definition's label in the current language (the `_en` variant when English)."""
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
