"""A small browser for tests: logs in, reads the forms of a page and submits them as typed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from flask import Flask
from werkzeug.test import TestResponse

from tests.conftest import PASSWORD, FreshContextClient, csrf_from


@dataclass
class Form:
    """A form as the browser would submit it: action, method and (name, value) pairs."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def values(self, name: str) -> list[str]:
        """Every value given for `name`."""
        return [v for k, v in self.fields if k == name]

    def value(self, name: str) -> str | None:
        """The first value given for `name`."""
        found = self.values(name)
        return found[0] if found else None


class _FormParser(HTMLParser):
    """Collect the forms of a page with their successful controls."""

    def __init__(self) -> None:
        """Start with no forms."""
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._option: tuple[str | None, bool, str] | None = None
        self._textarea: tuple[str, str] | None = None
        self._template = 0

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        """Open a form, a select, an option or a textarea; add an input."""
        attrs = {k: (v if v is not None else "") for k, v in attrs_list}
        if tag == "template":
            self._template += 1
        if self._template:
            return
        if tag == "form":
            self._form = Form(attrs.get("action", ""), attrs.get("method", "get").lower())
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            self._input(attrs)
        elif tag == "button" and attrs.get("type", "submit") == "submit" and "name" in attrs:
            self._form.buttons.append((attrs["name"], attrs.get("value", "")))
        elif tag == "select":
            self._select = (attrs.get("name", ""), [])
        elif tag == "option" and self._select is not None:
            self._option = (attrs.get("value"), "selected" in attrs, "")
        elif tag == "textarea":
            self._textarea = (attrs.get("name", ""), "")

    def _input(self, attrs: dict[str, str]) -> None:
        """Add an input's value when a browser would send it."""
        kind = attrs.get("type", "text")
        name = attrs.get("name")
        if not name or kind in {"submit", "button", "file", "reset", "image"}:
            return
        if kind in {"checkbox", "radio"} and "checked" not in attrs:
            return
        assert self._form is not None
        self._form.fields.append((name, attrs.get("value", "on" if kind == "checkbox" else "")))

    def handle_data(self, data: str) -> None:
        """Collect the text of options and textareas."""
        if self._option is not None:
            value, selected, text = self._option
            self._option = (value, selected, text + data)
        if self._textarea is not None:
            self._textarea = (self._textarea[0], self._textarea[1] + data)

    def handle_endtag(self, tag: str) -> None:
        """Close what was opened, adding its value to the form."""
        if tag == "template":
            self._template -= 1
        if self._template:
            return
        if tag == "option" and self._option is not None and self._select is not None:
            value, selected, text = self._option
            self._select[1].append((text if value is None else value, selected))
            self._option = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, options = self._select
            chosen = [v for v, s in options if s] or [v for v, _ in options[:1]]
            self._form.fields.extend((name, v) for v in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            name, text = self._textarea
            self._form.fields.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None
        elif tag == "form":
            self._form = None


@dataclass
class Page:
    """A response with its URL, text and forms."""

    url: str
    response: TestResponse

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.response.status_code

    @property
    def text(self) -> str:
        """The body as text."""
        return self.response.get_data(as_text=True)

    def forms(self) -> list[Form]:
        """Every form on the page."""
        parser = _FormParser()
        parser.feed(self.text)
        return parser.forms

    def form(self, action_contains: str = "", method: str = "post") -> Form:
        """The first form whose action contains the text; without text, the page's own form."""
        for form in self.forms():
            target = urljoin(self.url, form.action or self.url)
            wanted = action_contains in target if action_contains else target == self.url
            if form.method == method and wanted:
                return form
        raise AssertionError(f"no {method} form with action containing {action_contains!r}")

    def field_error(self, field_id: str) -> str:
        """The error message shown beside a field (by the input's id)."""
        match = re.search(rf'id="{re.escape(field_id)}-error">([^<]*)<', self.text)
        return match.group(1) if match else ""

    def input_value(self, field_id: str) -> str | None:
        """The value an input shows (by id)."""
        match = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', self.text)
        if not match:
            return None
        value = re.search(r'\bvalue="([^"]*)"', match.group(0))
        return value.group(1) if value else ""


class Browser:
    """One user's browser: a logged-in client with helpers to open pages and submit forms."""

    def __init__(self, app: Flask, username: str | None = None) -> None:
        """Open a client and log in through the real form (no login when username is None)."""
        app.test_client_class = FreshContextClient
        self.client = app.test_client()
        if username:
            page = self.client.get("/login")
            response = self.client.post("/login", data={
                "username": username, "password": PASSWORD,
                "csrf_token": csrf_from(page.get_data(as_text=True))})
            assert response.status_code == 302, f"login of {username} failed"

    def get(self, url: str) -> Page:
        """Open a page (redirects are not followed)."""
        return Page(url, _read(self.client.get(url)))

    def submit(self, page: Page, form: Form, changes: dict[str, Any] | None = None,
               button: tuple[str, str] | None = None,
               files: dict[str, list[tuple[bytes, str]]] | None = None) -> Page:
        """Submit a form of `page` as a user would after changing some fields.

        `changes` replaces all values of a name (a list gives several values; None removes
        the name, like an unticked box); `button` is the submit button pressed.
        """
        import io

        data: dict[str, Any] = {}
        for name, value in form.fields:
            data.setdefault(name, []).append(value)
        for name, value in (changes or {}).items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value if isinstance(value, list) else [value]
        if button:
            data.setdefault(button[0], []).append(button[1])
        for name, items in (files or {}).items():
            data[name] = [(io.BytesIO(content), filename) for content, filename in items]
        url = urljoin(page.url, form.action or page.url)
        content_type = "multipart/form-data" if files else None
        return Page(url, _read(self.client.post(url, data=data, content_type=content_type)))

    def post(self, url: str, data: dict[str, Any], csrf_page: Page) -> Page:
        """Post raw data with the CSRF token of a page (for requests no form makes)."""
        data = {**data, "csrf_token": csrf_from(csrf_page.text)}
        return Page(url, _read(self.client.post(url, data=data)))


def _read(response: TestResponse) -> TestResponse:
    """Buffer the body and close the response (downloads hold a file open until then)."""
    response.get_data()
    response.close()
    return response
