"""XSS and injection payloads through every way text enters, read back everywhere they show
(ASVS 5.0 V1.2 output encoding, V1.3 template injection, V5.3 file handling).

One call is filled by xss_scene.build: each payload as unit and person names, every form field,
file names, comments, opinions, review comments, objections and certificate holders. Then every
GET page and API route is opened as each role that can see it, every export read cell by cell,
every 申报书 and certificate PDF read as text: the payload shows as text (its escaped form is
there, so the check cannot pass by the text being absent), never as markup, a formula, or a
template that ran; and the PDFs loaded no file. The scene takes long to build (sixteen entries
taken to a certificate), so one test reads it all.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from flask import Flask
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Certificate, OutboxMessage, ReviewAssignment
from app.services.accounts import issue_token
from app.services.mail import email_of
from tests.security.xss_scene import (
    NUL,
    SECRET,
    STORED,
    Scene,
    build,
    clip,
    escaped,
    live_parts,
    visible,
)
from tests.web.browser import Browser

RTL = "湖塘\u202egnp.exe队"

BINARY = re.compile(r"\.(pdf|xlsx|zip|png)$|/file$")
ROLES = ("city", "wj_admin", "tn_admin", "expert1", "xss0", "xss5", None)


def test_every_payload_shows_as_text_everywhere(app: Flask, world: dict[str, Any]) -> None:
    scene = build(world)
    shown = sweep_pages(app, scene)
    entries_show_their_payloads(app, scene)
    exports_hold_text_never_formulas(app, scene)
    pdfs_print_the_payload_and_load_nothing(app, scene)
    outbox_mail_is_text(scene)
    # Every payload was seen escaped on some page: the sweep read the places they are stored.
    missing = [p for p in STORED if escaped(visible(p, 30)) not in shown]
    assert not missing, missing


def route_values(scene: Scene) -> list[dict[str, Any]]:
    """For each entry, the ids its pages are addressed by; the first also carries the rest."""
    certificates = {c.application_id: c for c in db.session.scalars(select(Certificate))}
    sheets = {s.application_id: s for s in db.session.scalars(select(ReviewAssignment))}
    common = {"call_id": scene.call.id, "key": "excellent_team", "event": "submitted",
              "user_id": scene.applicants[0].id, "org_id": scene.applicants[0].org_id,
              "name": "city_review", "trigger": "name_team"}
    values = []
    for entry, objection in zip(scene.entries, scene.objections, strict=True):
        values.append({**common, "application_id": entry.id,
                       "attachment_id": entry.attachments[0].id,
                       "certificate_id": certificates[entry.id].id,
                       "code": certificates[entry.id].code, "receipt": objection.receipt,
                       "objection_id": objection.id, "assignment_id": sheets[entry.id].id,
                       "review_id": sheets[entry.id].id})
    return values


def sweep_pages(app: Flask, scene: Scene) -> str:
    """Open every GET route as every role; check each answer; return all HTML seen."""
    values = route_values(scene)
    seen: list[str] = []
    opened = 0
    rules = [r for r in app.url_map.iter_rules()
             if "GET" in r.methods and r.endpoint != "static"]
    for username in ROLES:
        browser = Browser(app, username)
        token = issue_token(world_user(scene, username)) if username else ""
        db.session.commit()
        done: set[str] = set()
        for rule in rules:
            for item in values:
                if not set(rule.arguments) <= set(item):
                    break
                url = rule.build({k: item[k] for k in rule.arguments}, append_unknown=False)[1]
                if url in done or BINARY.search(url):
                    continue
                done.add(url)
                headers = {"Authorization": f"Bearer {token}"} if token and \
                    url.startswith("/api/") else {}
                response = browser.client.get(url, headers=headers)
                opened += 1
                seen.append(check_answer(url, username, response))
    assert opened > 500, opened
    SWEEP["pages"] = opened
    return "\n".join(seen)


SWEEP: dict[str, int] = {}


def world_user(scene: Scene, username: str | None) -> Any:
    """The user behind a username of the scene."""
    found = scene.users.get(username or "")
    if found is None:
        found = next(a for a in scene.applicants if a.username == username)
    return found


def check_answer(url: str, username: str | None, response: Any) -> str:
    """No server error, no live markup in HTML, JSON served as JSON; the HTML text."""
    where = f"{url} as {username or 'anonymous'}"
    data = response.get_data()
    response.close()
    assert response.status_code < 500, where
    assert response.headers["X-Content-Type-Options"] == "nosniff", where
    if response.mimetype == "application/json":
        assert SECRET not in json.dumps(json.loads(data)), where  # payloads stay strings
        return ""
    if response.mimetype not in ("text/html", "image/svg+xml", "text/plain"):
        # An uploaded file (named by a payload) is downloaded, never shown in the app's origin;
        # the app's own PDFs (certificates, 申报书) may open in the browser's viewer.
        disposition = response.headers.get("Content-Disposition", "")
        uploaded = "/attachments/" in url or url.endswith("/evidence")
        assert not uploaded or response.status_code != 200 or \
            disposition.startswith("attachment"), where
        return ""
    body = data.decode()
    assert SECRET not in body, where
    assert not live_parts(body), (where, live_parts(body))
    return body if response.mimetype == "text/html" else ""


def entries_show_their_payloads(app: Flask, scene: Scene) -> None:
    """The places a person reads each payload show it, escaped, exactly as typed."""
    city, district, public = Browser(app, "city"), Browser(app, "wj_admin"), Browser(app)
    expert = Browser(app, "expert1")
    for number, (payload, entry, objection) in enumerate(
            zip(STORED, scene.entries, scene.objections, strict=True)):
        title = escaped(visible(payload, 60))
        page = city.get(f"/applications/{entry.id}").text
        for expected in (title, escaped(visible(payload, 1500)),  # introduction
                         escaped(visible(payload, 500)),  # the district's opinion
                         escaped(clip(payload, 2000)),  # the expert's comment
                         escaped(clip(payload, 190)[:40])):  # the file name
            assert expected in page, (number, "entry page", expected[:80])
        assert title in district.get(f"/applications/{entry.id}").text, number
        assert title in expert.get(f"/reviews/{sheet_of(entry).id}").text, number
        assert title in Browser(app, f"xss{number}").get("/my/").text, number
        status = public.get(f"/notices/objections/{objection.receipt}").text
        assert escaped(at_most(payload, 2000)) in status, (number, "objection outcome")
        objections = city.get(f"/admin/calls/{scene.call.id}/objections").text
        assert escaped(clip(payload, 50)) in objections, (number, "objection name")
        code = db.session.scalar(select(Certificate.code).filter_by(application_id=entry.id))
        # Lookups are limited per address (the sweep made many): each from its own address.
        verify = public.client.get(f"/verify/{code}",
                                   environ_base={"REMOTE_ADDR": f"10.9.0.{number}"})
        assert title in verify.get_data(as_text=True), (number, "verification")
    audit = city.get("/admin/audit").text
    assert escaped(clip(STORED[0], 500)) in audit


def sheet_of(entry: Any) -> Any:
    """The expert's sheet of an entry."""
    return db.session.scalar(select(ReviewAssignment).filter_by(application_id=entry.id))


def at_most(payload: str, limit: int) -> str:
    """The start of a long text, as much as a page shows of it for sure."""
    return clip(payload, limit)[:40]


def exports_hold_text_never_formulas(app: Flask, scene: Scene) -> None:
    """Every export of the call: no formula cell anywhere, and each payload present as text."""
    city = Browser(app, "city")
    call = scene.call.id
    cells = 0
    found: set[str] = set()
    # (notice.xlsx lists entries in notice; the scene's have all been named since)
    for name in ("applications", "summary", "ranking", "review-sheets"):
        response = city.get(f"/admin/calls/{call}/{name}.xlsx").response
        assert response.status_code == 200, name
        book = load_workbook(io.BytesIO(response.get_data()))
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    if cell.value is None:
                        continue
                    cells += 1
                    assert cell.data_type != "f", (name, cell.coordinate, cell.value)
                    if isinstance(cell.value, str):
                        found.update(p for p in STORED if visible(p, 30) in cell.value)
    missing = [p for p in STORED if p not in found]
    assert not missing, missing
    SWEEP["cells"] = cells


def pdfs_print_the_payload_and_load_nothing(app: Flask, scene: Scene) -> None:
    """The 申报书 and the certificate of each entry print the payload as text; printing
    succeeds, so WeasyPrint fetched nothing (its fetcher refuses file: URLs with an error)."""
    city = Browser(app, "city")
    for number, (payload, entry) in enumerate(zip(STORED, scene.entries, strict=True)):
        dossier = city.get(f"/applications/{entry.id}/print.pdf").response
        assert dossier.status_code == 200, number
        text = pdf_words(dossier.get_data())
        assert squeeze(visible(payload, 60)) in text, (number, "申报书")
        certificate = db.session.scalar(select(Certificate).filter_by(application_id=entry.id))
        pdf = city.get(f"/applications/{entry.id}/certificates/{certificate.id}.pdf").response
        assert pdf.status_code == 200, number
        assert squeeze(visible(payload, 60))[:20] in pdf_words(pdf.get_data()), (number, "证书")


def pdf_words(pdf: bytes) -> str:
    """The text layer of a PDF, whitespace removed."""
    return "".join("".join(page.extract_text().split())
                   for page in PdfReader(io.BytesIO(pdf)).pages)


def squeeze(text: str) -> str:
    """Text without whitespace, to compare with a PDF's text layer."""
    return "".join(text.split())


def outbox_mail_is_text(scene: Scene) -> None:
    """The e-mails the moves wrote (with the city's edited wording) are plain text carrying
    the payload as typed, one-line subjects, no HTML part."""
    messages = list(db.session.scalars(select(OutboxMessage)))
    assert messages
    for message in messages:
        email = email_of(message, "pingshen@example.cn")
        assert "\n" not in message.subject
        assert [part.get_content_type() for part in email.walk()] == ["text/plain"]
    bodies = "\n".join(m.body for m in messages)
    assert all(visible(p, 30) in bodies for p in STORED)
    assert db.session.scalar(select(AuditEntry.id)) is not None


# Every place that marks text as safe HTML, and why it may: app-built markup whose every
# variable part is escaped first. A new |safe or Markup( fails the test below until listed here.
TRUSTED_MARKUP = {
    "app/certificates/render.py": "seal SVG (issuer name escaped per glyph), QR SVG (path data "
                                  "from the qrcode matrix), seal <img> (src is an internal "
                                  "seal:<hash> URL)",
    "app/web/filters.py": "workflow diagram SVG: app/engine/diagram.py escapes every label",
    "app/blueprints/admin/programmes.py": "the same workflow diagram SVG",
}


def test_no_template_marks_user_data_as_safe() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    templates = [p for p in (root / "app" / "templates").rglob("*") if p.is_file()]
    assert len(templates) > 60
    for path in templates:
        text = path.read_text()
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup", text), path
    marking = {str(p.relative_to(root)) for p in (root / "app").rglob("*.py")
               if re.search(r"\bMarkup\(|\|\s*safe\b", p.read_text())}
    assert marking == set(TRUSTED_MARKUP)


def test_the_diagram_escapes_what_it_draws(app: Flask) -> None:
    import copy

    from app.engine.diagram import workflow_svg
    from app.services.programmes import current_programme

    workflow = copy.deepcopy(current_programme("excellent_team").workflow)
    for item in workflow["states"] + workflow["transitions"]:
        item["label"] = SCRIPT_LABEL
    svg = workflow_svg(workflow)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


SCRIPT_LABEL = "<script>alert(1)</script>"


def test_a_nul_byte_is_refused_wherever_text_enters(app: Flask, world: dict[str, Any],
                                                    make_application: Any) -> None:
    entry = make_application("wj1")
    applicant = Browser(app, "wj1")
    edit = applicant.get(f"/applications/{entry.id}/edit")
    page = applicant.submit(edit, edit.form(), {"team_name": NUL}, button=("action", "save"))
    assert page.status == 400 and "空字符" in page.text
    login = Browser(app).client.post("/login", data={"username": NUL, "password": NUL})
    assert login.status_code == 400
    token = issue_token(world["users"]["wj1"])
    db.session.commit()
    api = Browser(app).client.patch(f"/api/v1/applications/{entry.id}",
                                    json={"data": {"introduction": NUL}},
                                    headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 400 and api.get_json()["error"] == "bad_request"
    receipt = Browser(app).client.get("/notices/objections/a%00b")
    assert receipt.status_code == 400
    db.session.rollback()
    stored = db.session.get(type(entry), entry.id)
    assert stored.data["team_name"] == "湖塘太极拳队" and "\x00" not in stored.data["introduction"]


def test_direction_characters_are_refused_in_names_and_form_text(app: Flask, world,
                                                                  make_application) -> None:
    entry = make_application("wj1")
    applicant = Browser(app, "wj1")
    edit = applicant.get(f"/applications/{entry.id}/edit")
    page = applicant.submit(edit, edit.form(), {"team_name": RTL}, button=("action", "save"))
    assert page.status == 422 and "U+202E" in page.field_error("team_name")
    city = Browser(app, "city")
    user = world["users"]["wj2"]
    form = city.get(f"/admin/users/{user.id}")
    refused = city.submit(form, form.form(f"/admin/users/{user.id}"), {"name": RTL})
    assert "U+202E" in refused.text
    db.session.rollback()
    assert db.session.get(type(entry), entry.id).data["team_name"] == "湖塘太极拳队"
    assert RTL not in db.session.get(type(user), user.id).name
