"""Confidential data never reaches a role that may not see it, on any GET route.

Unique marker strings are seeded into the population (tests/security/population.py): the
districts' recommendation opinion (step data, kept from applicants), the experts' comments, a
draft's team name, an objector's name and contact, and an applicant's e-mail and phone. Then
every GET route of `app.url_map` is fetched with every object of the population filled in, as
each of nine requesters; pages, JSON, headers, workbooks (read with openpyxl), PDFs (read with
pypdf) and ZIP archives (their names and files) are read as text. No marker may appear for a
requester who may not see it, and each marker does appear for someone who may, so the crawl
can fail. Blind rounds: tests/security/test_blind_review.py; an expert beside another on the
same entry: tests/security/test_expert_leaks.py.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from app.extensions import db
from tests.security import population
from tests.security.population import REQUESTERS
from tests.security.test_object_sweep import FIXED, Requester, targets

MARKERS = {
    "opinion": "区级意见标记QX71",
    "comment": "专家评语标记QX72",
    "draft": "草稿标记QX73",
    "objector": "异议人标记QX74",
    "objector_contact": "objector-qx75@example.test",
    "email": "applicant-qx76@example.test",
    "phone": "13987654376",
}
EVERYONE = set(REQUESTERS)
# Marker → who must never see it (WJ's entries carry the markers; wj1 is their applicant).
HIDDEN_FROM = {
    "opinion": {"anon", "wj1", "wj2", "tn1", "tn_admin", "expert2"},  # step data: not applicants
    "comment": {"anon", "wj1", "wj2", "tn1", "tn_admin", "expert2"},
    "draft": EVERYONE - {"wj1"},  # administrators see entries from their first submission
    "objector": EVERYONE - {"city"},
    "objector_contact": EVERYONE - {"city"},
    "email": {"anon", "wj2", "tn1", "tn_admin", "expert2"},
    "phone": {"anon", "wj2", "tn1", "tn_admin", "expert2"},
}
SHOWN_TO = {"opinion": "city", "comment": "city", "draft": "wj1", "objector": "city",
            "objector_contact": "city", "email": "city", "phone": "city"}


def readable(response: Any) -> str:
    """The response as a person or a program would read it: headers and body as text."""
    data = response.get_data()
    return str(response.headers) + _text(data, response.mimetype)


def _text(data: bytes, mimetype: str) -> str:
    """Text of a body: workbooks cell by cell, PDFs page by page, archives file by file."""
    if data.startswith(b"%PDF"):
        try:
            return "".join("".join(page.extract_text().split())
                           for page in PdfReader(io.BytesIO(data)).pages)
        except PdfReadError:  # the tests' tiny sample upload is no full PDF: read its bytes
            return data.decode("latin-1")
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "xl/workbook.xml" in names:
                book = load_workbook(io.BytesIO(data), read_only=True)
                return " ".join(str(cell) for sheet in book.worksheets
                                for row in sheet.iter_rows(values_only=True) for cell in row
                                if cell is not None)
            return " ".join(names) + " ".join(_text(archive.read(name), "")
                                               for name in names)
    return data.decode("utf-8", errors="replace")


def _seed(world: dict[str, Any]) -> population.Population:
    """The population with the markers in WJ's entries, objections and wj1's account."""
    wj1 = world["users"]["wj1"]
    wj1.email, wj1.phone = MARKERS["email"], MARKERS["phone"]
    db.session.commit()
    return population.build(
        world, data={("wj", "draft"): {"team_name": MARKERS["draft"]}},
        opinion=MARKERS["opinion"], comment=MARKERS["comment"],
        objector=(MARKERS["objector"], MARKERS["objector_contact"]))


def _urls(app: Flask, pop: population.Population) -> list[tuple[str, str]]:
    """Every GET route with every object of the population filled in: (endpoint, url)."""
    fixed = {**FIXED, "code": pop.certificates["wj"].code, "token": "no-such-token"}
    found = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        args = set(rule.arguments)
        sets = [t.values for t in targets(pop, args)] if args - set(fixed) else [{}]
        for values in sets:
            values = {**fixed, **values}
            found.append((rule.endpoint,
                          rule.build({k: values[k] for k in args}, append_unknown=False)[1]))
    return found


@pytest.mark.slow
def test_no_marker_reaches_a_role_that_may_not_see_it(app: Flask, world):
    pop = _seed(world)
    urls = _urls(app, pop)
    seen: dict[str, set[str]] = {name: set() for name in MARKERS}  # marker → who saw it
    leaks = []
    for name in REQUESTERS:
        requester = Requester(app, name, None if name == "anon" else world["users"][name])
        for endpoint, url in urls:
            response = requester.send(endpoint, "GET", url, {})
            text = readable(response)
            response.close()
            db.session.rollback()
            for marker, value in MARKERS.items():
                if value in text:
                    seen[marker].add(name)
                    if name in HIDDEN_FROM[marker]:
                        leaks.append(f"{marker} shown to {name} at {url}")
    print(f"\nmarker crawl: {len(urls)} GET requests per requester × {len(REQUESTERS)} "
          f"requesters = {len(urls) * len(REQUESTERS)}")
    assert leaks == [], "\n".join(leaks)
    assert {marker: SHOWN_TO[marker] in who for marker, who in seen.items()} == \
        dict.fromkeys(MARKERS, True)


def test_an_applicant_never_reads_the_districts_opinion_over_the_api(app: Flask, world,
                                                                    make_application):
    """Found by the crawl: the page kept the step data from applicants, the API did not."""
    from app.engine.runtime import fire
    from app.services.accounts import issue_token

    users = world["users"]
    entry = make_application("wj1")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": MARKERS["opinion"]})
    tokens = {name: issue_token(users[name]) for name in ("wj1", "wj_admin")}
    db.session.commit()
    client = app.test_client()

    def read(name: str) -> Any:
        """The entry over the API as this user."""
        return client.get(f"/api/v1/applications/{entry.id}",
                          headers={"Authorization": f"Bearer {tokens[name]}"}).get_json()

    mine = read("wj1")
    assert mine["step_data"] == {} and [row["data"] for row in mine["history"]] == [{}] * 3
    assert MARKERS["opinion"] not in str(mine)
    assert read("wj_admin")["step_data"]["district_recommendation"]["opinion"] == \
        MARKERS["opinion"]
