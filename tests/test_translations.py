"""Chinese first: every UI string is translated, and pages speak Chinese unless asked otherwise;
every message the server makes (written in Chinese) has its English translation."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.config import ROOT

CATALOGUE = ROOT / "app" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
SERVER_CATALOGUE = ROOT / "app" / "translations" / "en" / "LC_MESSAGES" / "server.po"
PLACEHOLDER = re.compile(r"%\(\w+\)s|%s|%d|\{\w*\}")
NAMED = re.compile(r"%\(\w+\)s")
HAN = re.compile(r"[\u4e00-\u9fff]")
QUOTED = re.compile(r"“[^”]*”|【[^】]*】|「[^」]*」")  # Chinese words quoted from the data


def _source_messages() -> set[str]:
    """Every msgid the code and templates ask for (as `make i18n-update` extracts them)."""
    method_map = [("app/**.py", "python"), ("app/templates/**.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords={"_": None, "gettext": None, "_l": None,
                                             "lazy_gettext": None, "ngettext": (1, 2)}):
        found.update([message] if isinstance(message, str) else message)
    return found


def _server_messages() -> set[str]:
    """Every Chinese message the server code marks with zh() or zh_mark() (the `server` domain)."""
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), [("app/**.py", "python")], keywords={"zh": None, "zh_mark": None}):
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


def test_every_server_message_has_an_english_translation():
    with SERVER_CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle)
    translated = {m.id: m.string for m in catalogue if m.id and m.string}
    messages = _source_messages_checked(_server_messages())
    missing = sorted(messages - set(translated))
    assert missing == [], "run `make i18n-update` and translate these in en/.../server.po"
    for msgid in messages:
        text = translated[msgid]
        # the same named placeholders, nothing else that formats, and really English
        assert sorted(NAMED.findall(msgid)) == sorted(NAMED.findall(text)), msgid
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(text)), msgid
        assert not HAN.search(QUOTED.sub("", text)), msgid


def _source_messages_checked(messages: set[str]) -> set[str]:
    """The server's messages, each a plain Chinese text with %(name)s placeholders only (an
    f-string or {} inside zh() would be shown unfilled)."""
    for message in messages:
        assert not re.search(r"\{\w*\}|%s|%d", message), message
    return messages


def test_english_readers_get_the_servers_messages_in_english(app):
    from app.engine.formdata import clean_value
    from app.i18n import zh

    field = {"type": "integer", "min": 1, "max": None}
    with app.app_context(), app.test_request_context("/"):  # Chinese by default
        assert zh("此项为必填项") == "此项为必填项"
        with pytest.raises(ValueError, match="^不能小于 1$"):
            clean_value(field, 0)
    with app.app_context(), app.test_request_context("/?lang=en"):
        assert zh("此项为必填项") == "This field is required"
        with pytest.raises(ValueError, match="^Must not be less than 1$"):
            clean_value(field, 0)
    with app.app_context():  # workers and the CLI speak Chinese
        assert zh("此项为必填项") == "此项为必填项"
    assert zh("此项为必填项") == "此项为必填项"  # and so does code outside the app


def test_error_pages_and_api_errors_follow_the_language(client):
    assert "页面或对象不存在" in client.get("/no-such-page").get_data(as_text=True)
    assert "No such page or object" in client.get("/no-such-page?lang=en").get_data(as_text=True)
    api = client.get("/api/v1/applications", headers={"Accept-Language": "en"}).get_json()
    assert api["message"] == ("Access token missing; send a Bearer token in the "
                              "Authorization header")
    # pages ignore the browser's Accept-Language: Chinese unless the user switches
    page = client.get("/no-such-page", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "页面或对象不存在" in page


def test_dates_are_written_as_each_language_writes_them(app):
    from datetime import date

    from app.web.filters import local_date

    with app.app_context(), app.test_request_context("/"):
        assert local_date(date(2026, 6, 8)) == "2026年6月8日"
    with app.app_context(), app.test_request_context("/?lang=en"):
        assert local_date(date(2026, 6, 8)) == "8 June 2026"
