"""Chinese first: every UI string is translated, and pages speak Chinese unless asked otherwise."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.config import ROOT

CATALOGUE = ROOT / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|%d|\{\w*\}")


def _source_messages() -> set[str]:
    """Every msgid the code and templates ask for (as `make i18n-update` extracts them)."""
    method_map = [("app/**.py", "python"), ("app/templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords={"_": None, "gettext": None, "_l": None,
                                             "lazy_gettext": None, "ngettext": (1, 2)}):
        found.update([message] if isinstance(message, str) else message)
    return found


def test_every_ui_string_has_a_chinese_translation():
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    translated = {m.id: m.string for m in catalogue if m.id and m.string}
    missing = sorted(_source_messages() - set(translated))
    assert missing == [], "run `make i18n-update` and translate these in messages.po"
    for msgid, text in translated.items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid


def test_pages_are_chinese_by_default_and_english_on_request(client):
    assert "登录" in client.get("/login").get_data(as_text=True)
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in english and "登录" not in english
