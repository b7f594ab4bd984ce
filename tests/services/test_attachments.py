"""Uploads: checked by extension and by content, size-limited, stored under random names."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.config import ROOT
from app.engine.errors import Forbidden, GuardsFailed, ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.models import Attachment
from app.services.attachments import attachment_path, store_attachment
from app.services.demo import SAMPLE_PDF

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_file_is_stored_outside_static_under_a_random_name(world, make_application):
    application = make_application("wj1")
    attachment = db.session.scalar(select(Attachment).filter_by(application_id=application.id))
    path = attachment_path(attachment)
    assert path.read_bytes() == SAMPLE_PDF
    assert attachment.original_name == "章程.pdf"
    assert "章程" not in str(path) and len(attachment.stored_name) == 32
    assert not path.is_relative_to(ROOT / "app" / "static")


def test_content_must_match_the_extension(world, make_application):
    application = make_application("wj1")
    with pytest.raises(ValidationFailed) as refused:
        store_attachment(application, "charter", "章程.pdf", io.BytesIO(PNG),
                         world["users"]["wj1"])
    assert "文件内容与扩展名 .pdf 不符" in refused.value.message


def test_extension_must_be_accepted_by_the_field(world, make_application):
    application = make_application("wj1")
    with pytest.raises(ValidationFailed) as refused:
        store_attachment(application, "charter", "章程.exe", io.BytesIO(SAMPLE_PDF),
                         world["users"]["wj1"])
    assert "pdf/docx/doc" in refused.value.message


def test_size_limit_is_enforced_and_nothing_is_left_behind(app, world, make_application):
    application = make_application("wj1")
    big = io.BytesIO(PNG + b"\x00" * (10 * 1024 * 1024))
    with pytest.raises(ValidationFailed) as refused:
        store_attachment(application, "photos", "big.png", big, world["users"]["wj1"])
    assert "10 MB" in refused.value.message
    stored = {p.name for p in (ROOT / app.config["UPLOAD_FOLDER"]).rglob("*") if p.is_file()}
    assert len(stored) == 1  # only the charter from make_application


def test_single_file_field_replaces_the_old_file(world, make_application):
    application = make_application("wj1")
    store_attachment(application, "charter", "新章程.pdf", io.BytesIO(SAMPLE_PDF),
                     world["users"]["wj1"])
    db.session.commit()
    names = db.session.scalars(select(Attachment.original_name).filter_by(
        application_id=application.id, field_key="charter")).all()
    assert names == ["新章程.pdf"]


def test_only_the_owner_uploads_and_only_while_editable(world, make_application):
    application = make_application("wj1")
    with pytest.raises(Forbidden):
        store_attachment(application, "photos", "a.png", io.BytesIO(PNG), world["users"]["wj2"])
    fire(application, "submit", world["users"]["wj1"])
    with pytest.raises(Forbidden):
        store_attachment(application, "photos", "a.png", io.BytesIO(PNG), world["users"]["wj1"])


def test_after_the_call_closes_submission_is_refused_and_the_draft_kept(world, make_application):
    application = make_application("wj1")
    call = world["call"]
    call.closes_at = call.opens_at + timedelta(seconds=1)
    db.session.commit()
    with pytest.raises(GuardsFailed) as refused:
        fire(application, "submit", world["users"]["wj1"])
    assert "截止，不能再提交" in refused.value.message
    db.session.rollback()
    assert application.state == "draft"
    assert application.data["team_name"] == "湖塘太极拳队"
