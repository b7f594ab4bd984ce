"""Certificate text may print short fields of the entry's form: {field.<key>}."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.engine.errors import DefinitionError
from app.engine.loader import build_catalogue
from app.extensions import db
from app.models import Certificate
from app.services.accounts import add_user
from app.services.certificates import certificate_pdf
from app.services.programmes import catalogue
from tests.api.test_programme_paths import Driver, expert_names, path_to
from tests.certificates.test_render import pdf_text
from tests.conftest import PASSWORD
from tests.engine.test_shipped_programmes import FORMS, WORKFLOWS


def test_a_completion_certificate_prints_the_project_number_and_leader(api, world):
    for name in expert_names():
        add_user(name, "expert", "X-OU", PASSWORD, name)
    db.session.commit()
    programme = catalogue()["project_completion"]
    driver = Driver(api, programme, 1)
    driver.drive(path_to(programme, "completed"))
    data = driver.callers["applicant"].get(driver.base).get_json()["data"]
    certificate = db.session.scalar(select(Certificate).where(
        Certificate.application_id == driver.id))
    text = pdf_text(certificate_pdf(certificate).read_bytes())
    line = (f"{data['owner_unit']}承担的该项目（项目编号{data['project_number']}，"
            f"负责人{data['leader']}）")
    assert "".join(line.split()) in text


def test_only_short_fields_of_the_form_may_be_printed():
    def with_text(line: str) -> list[str]:
        changed = []
        for name, doc, text in WORKFLOWS:
            if doc["key"] == "project_completion":
                doc = {**doc, "certificate": {**doc["certificate"], "text": [line]}}
            changed.append((name, doc, text))
        with pytest.raises(DefinitionError) as refused:
            build_catalogue(FORMS, changed)
        return refused.value.problems

    for line in ("{field.nope}", "{field.closing_report}", "{field.__class__}"):
        [problem] = with_text(line)
        assert problem.startswith("workflows/project_completion.yaml: certificate.text[0]: "
                                  "unknown placeholder"), problem
