"""Issuing a whole call's certificates as a background job: rows, serials, PDFs, progress,
who may start it, and what a second start or a revoked certificate does."""

from __future__ import annotations

import re

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.blueprints.admin import certificates as page_module
from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.models import Certificate, Job
from app.services.certificate_jobs import awarded_entries, start_issue_job
from app.services.certificates import pdf_path, revoke_certificate
from tests.certificates.test_render import pdf_text
from tests.conftest import csrf_from, login


def test_the_job_issues_one_certificate_per_awarded_entry_with_gap_free_serials(
        world, awarded):
    entries = awarded(6)
    assert [e.id for e in awarded_entries(world["call"])] == [e.id for e in entries]
    job = start_issue_job(world["call"], world["users"]["city"])
    db.session.commit()  # the job runs after commit (at once, in the tests' immediate queue)

    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert (job.status, job.total, job.done, job.failed) == ("done", 6, 6, 0)
    assert job.finished_at is not None
    certificates = db.session.scalars(select(Certificate).order_by(Certificate.serial)).all()
    assert sorted(c.application_id for c in certificates) == sorted(e.id for e in entries)
    assert [c.serial for c in certificates] == [f"YXTD-2026-{n:04d}" for n in range(1, 7)]
    for certificate in certificates:
        path = pdf_path(certificate)
        assert path.exists()
        text = pdf_text(path.read_bytes())
        assert certificate.holder in text and certificate.serial in text
        assert len(PdfReader(path).pages) == 1
    assert awarded_entries(world["call"]) == []


def test_a_second_start_while_running_returns_the_same_job_and_nothing_left_is_refused(
        world, awarded, app):
    awarded(2)
    app.config["JOB_QUEUE_URL"] = "immediate"
    first = Job(kind="issue_certificates", call_id=world["call"].id, status="running")
    db.session.add(first)
    db.session.commit()
    assert start_issue_job(world["call"], world["users"]["city"]).id == first.id
    first.status = "done"
    db.session.commit()
    start_issue_job(world["call"], world["users"]["city"])
    db.session.commit()
    assert db.session.scalar(select(func.count(Certificate.id))) == 2
    with pytest.raises(Conflict, match="没有待签发的证书"):
        start_issue_job(world["call"], world["users"]["city"])


def test_only_the_city_starts_a_bulk_issue(world, awarded):
    awarded(1)
    for name in ("wj_admin", "expert1", "wj1"):
        with pytest.raises(Forbidden):
            start_issue_job(world["call"], world["users"][name])
    assert db.session.scalar(select(func.count(Job.id))) == 0


def test_a_revoked_certificate_is_not_silently_issued_again(world, awarded):
    entries = awarded(2)
    start_issue_job(world["call"], world["users"]["city"])
    db.session.commit()
    revoked = db.session.scalar(select(Certificate).where(
        Certificate.application_id == entries[0].id))
    revoke_certificate(revoked, world["users"]["city"], "获奖资格被取消")
    db.session.commit()
    assert awarded_entries(world["call"]) == []
    assert db.session.scalar(select(func.count(Certificate.id))) == 2


def test_the_database_refuses_a_second_valid_certificate_for_one_entry(world, awarded):
    entry = awarded(1)[0]
    start_issue_job(world["call"], world["users"]["city"])
    db.session.commit()
    first = db.session.scalar(select(Certificate))
    db.session.add(Certificate(
        application_id=entry.id, serial="YXTD-2026-9999", code="x" * 27, title=first.title,
        holder=first.holder, programme_title=first.programme_title, call_title=first.call_title,
        award=first.award, issuer=first.issuer, issued_on=first.issued_on))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_the_certificates_page_starts_the_job_and_shows_its_outcome(world, awarded, client):
    awarded(3)
    login(client, "city")
    page = client.get(f"/admin/calls/{world['call'].id}/certificates").get_data(as_text=True)
    assert "3 个获奖申报尚无证书" in page and "签发 3 份证书" in page
    response = client.post(f"/admin/calls/{world['call'].id}/certificates/issue",
                           data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "正在后台签发证书" in page
    assert "最近一次批量签发已完成" in page and "共 3 份证书" in page
    assert "每个获奖申报都已有证书" in page
    assert len(re.findall(r"YXTD-2026-000[123]", page)) == 3
    job = db.session.scalar(select(Job))
    state = client.get(f"/admin/jobs/{job.id}").get_json()
    assert (state["status"], state["done"], state["total"], state["percent"]) == (
        "done", 3, 3, 100)


def test_a_running_job_shows_a_progress_bar_that_polls(world, awarded, client):
    awarded(1)
    job = Job(kind="issue_certificates", call_id=world["call"].id, status="running",
              total=40, done=10)
    db.session.add(job)
    db.session.commit()
    login(client, "city")
    page = client.get(f"/admin/calls/{world['call'].id}/certificates").get_data(as_text=True)
    assert f'data-job-url="/admin/jobs/{job.id}"' in page
    assert '<progress max="100" value="25"' in page and "已生成 10 / 40 份证书" in page
    assert "签发 1 份证书" not in page  # no second start while one runs


def test_district_administrators_cannot_start_or_watch_a_job(world, awarded, client):
    awarded(1)
    job = Job(kind="issue_certificates", call_id=world["call"].id)
    db.session.add(job)
    db.session.commit()
    login(client, "wj_admin")
    page = client.get("/district/").get_data(as_text=True)
    assert client.post(f"/admin/calls/{world['call'].id}/certificates/issue",
                       data={"csrf_token": csrf_from(page)}).status_code == 403
    assert client.get(f"/admin/jobs/{job.id}").status_code == 403
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


def test_a_print_run_is_drawn_in_parts_and_joined_in_order(world, awarded, monkeypatch):
    from app.services import certificate_jobs
    from app.services.certificate_jobs import print_file, start_print_job

    awarded(3)
    start_issue_job(world["call"], world["users"]["city"])
    db.session.commit()
    monkeypatch.setattr(certificate_jobs, "PRINT_CHUNK", 2)  # parts of 2 pages: 2 + 1
    job = start_print_job(world["call"], world["users"]["city"], "serial")
    db.session.commit()
    db.session.refresh(job)
    assert (job.status, job.done, job.total, job.options) == ("done", 3, 3, {"order": "serial"})
    path = print_file(job)
    pages = PdfReader(path).pages
    serials = [re.search(r"YXTD-2026-\d{4}", page.extract_text()).group(0) for page in pages]
    assert serials == ["YXTD-2026-0001", "YXTD-2026-0002", "YXTD-2026-0003"]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # parts removed
    with pytest.raises(ValidationFailed, match="排序方式"):
        start_print_job(world["call"], world["users"]["city"], "by size")


def test_the_certificate_list_filters_searches_and_pages(world, awarded, client, monkeypatch):
    entries = awarded(3)  # 第1支 (tn1), 第2支 (wj2), 第3支 (tn3)
    start_issue_job(world["call"], world["users"]["city"])
    db.session.commit()
    second = db.session.scalar(select(Certificate).filter_by(application_id=entries[1].id))
    revoke_certificate(second, world["users"]["city"], "材料不实，撤销证书")
    db.session.commit()
    login(client, "city")
    base = f"/admin/calls/{world['call'].id}/certificates"

    def shown(query: str = "") -> list[str]:
        text = client.get(base + query).get_data(as_text=True)
        return sorted((f"第{n}支优秀团队" for n in (1, 2, 3) if f"第{n}支优秀团队" in text),
                      key=text.index)

    assert shown() == ["第1支优秀团队", "第2支优秀团队", "第3支优秀团队"]
    assert shown("?status=revoked") == ["第2支优秀团队"]
    assert shown("?q=第3支") == ["第3支优秀团队"]  # by the entry's title
    assert shown("?q=天宁区单位1") == ["第1支优秀团队"]  # by the holder's unit
    assert shown("?q=100%25") == [] and "没有符合条件的证书" in client.get(
        base + "?q=100%25").get_data(as_text=True)
    monkeypatch.setattr(page_module, "PER_PAGE", 2)
    assert shown() == ["第1支优秀团队", "第2支优秀团队"]
    assert shown("?page=2") == ["第3支优秀团队"]
