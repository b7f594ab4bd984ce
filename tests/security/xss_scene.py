"""The XSS / injection payloads, and a call in which each one has gone through every way text
enters Pingshen (test_xss_sweep.py reads it back from every page, export and PDF).

Each payload gets its own applicant, unit and entry, and travels as far as an entry goes: the
unit's name and the applicant's name, every text, textarea and table cell of the form, the file
name of an attachment, the district's return comment and recommendation opinion, the expert's
comment, an objection's name, contact, reason and evidence file name, the city's decision on it,
and the certificate's holder name (the team name). Where a field is shorter than the payload, the
payload is cut to the field's length (the very long payload is the one that tests the limits).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

from markupsafe import escape

from app.engine.formdata import HIDDEN
from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, Call, Objection, User
from app.models.base import utcnow
from app.services.accounts import add_organisation, add_user
from app.services.applications import create_application, update_data
from app.services.attachments import store_attachment
from app.services.calls import open_call
from app.services.demo import SAMPLE_PDF, team_data
from app.services.message_templates import save_wording
from app.services.objections import decide, submit_objection
from app.services.programmes import programme_of
from app.services.reviews import assign_expert, save_review
from tests.conftest import PASSWORD, TEAM_SCORES, confirmed

SCRIPT = "<script>alert(1)</script>"
PAYLOADS: tuple[str, ...] = (
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{7*7}}",
    "{{ config.SECRET_KEY }}{% print 6*7 %}",
    "'\"><svg/onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "</style><script>alert(1)</script>",
    '=HYPERLINK("http://evil.test/x","点此查看")',
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1-2+cmd|' /C calc'!A0",
    '<img src="file:///etc/passwd">',
    '<link rel=stylesheet href="file:///etc/passwd">',
    "湖塘\u202egnp.exe队",  # right-to-left override: shows as 湖塘exe.png队
    SCRIPT * 200,  # 5 000 characters: beyond every field's limit
    "湖塘\x00" + SCRIPT,  # a NUL byte
)
NUL = PAYLOADS[-1]
STORED = PAYLOADS[:-1]  # a NUL byte is refused at the door (app/security.py), never stored
SECRET = "test-secret"  # the tests' SECRET_KEY: a template injection of {{ config }} would show it

# What must never occur literally in an HTML page: the payloads' markup, unescaped.
LIVE_MARKUP = re.compile(r"<script>alert|<img src=x|<svg/onload|<img src=\"file:|"
                         r"<link rel=stylesheet", re.IGNORECASE)


URL_ATTRIBUTES = {"href", "src", "action", "formaction", "srcset", "data", "poster",
                  "xlink:href", "background"}


class _LiveParts(HTMLParser):
    """Collect what a browser would run or fetch from a page: inline scripts, event handler
    attributes, javascript: and file: URLs (the app itself uses none: its CSP forbids them)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Check one tag and its attributes."""
        named = dict(attrs)
        if tag == "script" and not named.get("src"):
            self.found.append("inline <script>")
        for name, value in attrs:
            url = (value or "").strip().lower()
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in URL_ATTRIBUTES and url.startswith(("javascript:", "file:", "data:text")):
                self.found.append(f"<{tag} {name}={value}>")


def live_parts(html: str) -> list[str]:
    """What in ``html`` a browser would run or fetch that the app did not put there."""
    parser = _LiveParts()
    parser.feed(html)
    parser.close()
    return parser.found + LIVE_MARKUP.findall(html)


def escaped(text: str) -> str:
    """``text`` as Jinja's autoescape writes it (markupsafe: & < > " ' as entities)."""
    return str(escape(text))


def clip(payload: str, limit: int) -> str:
    """The payload cut to a field's length, as a person would shorten it to fit."""
    return payload.strip()[:limit]


def visible(payload: str, limit: int) -> str:
    """What a name or form field keeps: the payload cut to fit, without the direction
    characters these refuse (they are refused with a message, see test_xss_sweep.py)."""
    return clip(HIDDEN.sub("", payload), limit)


def at_least(text: str, minimum: int) -> str:
    """Pad a text that a field needs longer (an objection's reason, a decision)."""
    return text if len(text) >= minimum else text + "（请核实）" * minimum


@dataclass
class Scene:
    """The call, and per payload its applicant, entry and objection."""

    call: Call
    users: dict[str, User]
    applicants: list[User] = field(default_factory=list)
    entries: list[Application] = field(default_factory=list)
    objections: list[Objection] = field(default_factory=list)
    certificates: list[Any] = field(default_factory=list)


def form_data(form: Any, payload: str) -> dict[str, Any]:
    """A complete application whose every free-text field and table cell holds the payload."""
    data: dict[str, Any] = team_data("团队", "中心", "张三")
    for item in form.fields:
        if item["type"] in ("text", "textarea"):
            data[item["key"]] = visible(payload, item["max_length"])
        elif item["type"] == "table":
            data[item["key"]] = [
                {**row, **{c["key"]: visible(payload, c["max_length"]) for c in item["columns"]
                           if c["type"] in ("text", "textarea")}}
                for row in data[item["key"]]]
    return data


def build(world: dict[str, Any]) -> Scene:
    """Put every payload through every way text enters, and commit."""
    users = world["users"]
    city, district, expert = users["city"], users["wj_admin"], users["expert1"]
    now = utcnow()
    call = open_call("excellent_team", f"2026年度{SCRIPT}遴选", 2026, now - timedelta(days=1),
                     now + timedelta(days=30), {"WJ": 50, "TN": 50}, city)
    scene = Scene(call, users)
    save_wording("submitted", f"已提交：{{title}} {SCRIPT}",
                 "您的申报“{title}”已提交。\n" + "\n".join(p for p in PAYLOADS[:15]
                                                     if "{" not in p), city)
    for number, payload in enumerate(STORED):
        add_organisation(f"XSS{number}", visible(payload, 200), "unit", "WJ-S")
        applicant = add_user(f"xss{number}", "applicant", f"XSS{number}", PASSWORD,
                             visible(payload, 100), email=f"xss{number}@example.cn")
        scene.applicants.append(applicant)
        entry = create_application(call, applicant, {})
        update_data(entry, applicant, form_data(programme_of(entry).application_form, payload))
        store_attachment(entry, "charter", clip(payload, 190) + ".pdf", io.BytesIO(SAMPLE_PDF),
                         applicant)
        fire(entry, "submit", applicant)
        fire(entry, "return_for_correction", district, comment=clip(payload, 500))
        fire(entry, "resubmit", applicant)
        fire(entry, "recommend", district, comment=clip(payload, 500),
             data={"rank": 1, "opinion": visible(payload, 500)})
        sheet = confirmed(assign_expert(entry, expert, city))
        save_review(sheet, expert, TEAM_SCORES, clip(payload, 2000), submit=True)
        fire(entry, "publish_notice", city)
        objection = submit_objection(
            entry, clip(payload, 50), at_least(clip(payload, 100), 5),
            at_least(clip(payload, 2000), 10),
            (clip(payload, 190) + ".pdf", io.BytesIO(SAMPLE_PDF)), f"10.0.0.{number}")
        decide(objection, city, False, at_least(clip(payload, 2000), 5))
        fire(entry, "name_team", city)
        scene.entries.append(entry)
        scene.objections.append(objection)
    db.session.commit()
    return scene
