"""Public notice and objections: the public list shows the chosen fields only; anyone may object
and read the outcome with the receipt; an open objection holds the notice; the city sustains
(the entry moves) or dismisses with a written outcome."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.engine.errors import Conflict, Forbidden, GuardsFailed, TooManyRequests, ValidationFailed
from app.engine.runtime import fire
from app.extensions import db
from app.models import AuditEntry, Objection
from app.services.demo import SAMPLE_PDF
from app.services.objections import decide, submit_objection
from app.services.timers import run_timers
from tests.conftest import csrf_from, login

REASON = "该团队实际成立于去年十月，申报材料中的成立时间不实。"


def test_the_public_list_shows_the_chosen_fields_and_the_period(in_notice, client):
    page = client.get("/notices").get_data(as_text=True)
    assert "2026年度X市社区教育优秀团队遴选 · 公示中" in page
    for shown in ("湖塘太极拳队", "某中心", "张三", "武进区单位1"):
        assert shown in page
    assert "13912345678" not in page and "team@example.cn" not in page  # not chosen fields
    assert "2026年6月1日 — 2026年6月8日" in page  # 5 working days after Monday 1 June
    assert f"/notices/{in_notice.id}/objection" in page


def test_anyone_objects_and_reads_the_outcome_with_the_receipt(world, in_notice, client):
    form = client.get(f"/notices/{in_notice.id}/objection").get_data(as_text=True)
    response = client.post(f"/notices/{in_notice.id}/objection", data={
        "csrf_token": csrf_from(form), "name": "李明", "contact": "13800001111",
        "reason": REASON, "evidence": (io.BytesIO(SAMPLE_PDF), "营业执照.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    receipt_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "异议已收到" in receipt_page and "正在核查" in receipt_page
    objection = db.session.scalar(select(Objection))
    assert (objection.name, objection.evidence_name, objection.status) == (
        "李明", "营业执照.pdf", "open")
    assert objection.receipt in receipt_page

    decide(objection, world["users"]["city"], False, "经核实，该团队成立于2021年，材料属实。")
    db.session.commit()
    answer = client.get(f"/notices/objections/{objection.receipt}").get_data(as_text=True)
    assert "不成立" in answer and "经核实，该团队成立于2021年" in answer
    assert client.get("/notices/objections/not-a-receipt").status_code == 404


def test_bad_objections_are_refused_in_chinese_and_nothing_is_stored(in_notice, client):
    form = client.get(f"/notices/{in_notice.id}/objection").get_data(as_text=True)
    response = client.post(f"/notices/{in_notice.id}/objection", data={
        "csrf_token": csrf_from(form), "name": "", "contact": "1", "reason": "不实"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "请填写姓名" in page and "请填写联系电话或电子邮箱" in page and "10–2000 字" in page
    fake = client.post(f"/notices/{in_notice.id}/objection", data={
        "csrf_token": csrf_from(form), "name": "李明", "contact": "13800001111",
        "reason": REASON, "evidence": (io.BytesIO(b"MZ not a pdf"), "证据.pdf")},
        content_type="multipart/form-data")
    assert fake.status_code == 422 and "文件内容与扩展名 .pdf 不符" in fake.get_data(as_text=True)
    assert db.session.scalar(select(Objection)) is None


def test_an_open_objection_holds_the_notice_until_the_city_decides(world, in_notice):
    objection = submit_objection(in_notice, "李明", "13800001111", REASON, None, "10.0.0.1")
    db.session.commit()
    [outcome] = run_timers(datetime(2026, 6, 10, tzinfo=UTC))
    assert not outcome.moved
    assert outcome.reasons == ["该申报有 1 条异议尚未处理，处理后才能结束公示"]
    with pytest.raises(GuardsFailed):
        fire(in_notice, "name_team", world["users"]["city"])
    db.session.rollback()
    with pytest.raises(Forbidden):
        decide(objection, world["users"]["wj_admin"], True, "异议成立，材料不实。")
    with pytest.raises(ValidationFailed):
        decide(objection, world["users"]["city"], True, "")
    decide(objection, world["users"]["city"], True, "经核实，成立时间不实，不予命名。")
    db.session.commit()
    db.session.refresh(in_notice)
    assert in_notice.state == "not_selected"
    move = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert move.trigger == "objection_upheld" and "成立时间不实" in move.comment
    with pytest.raises(Conflict, match="已处理"):
        decide(objection, world["users"]["city"], False, "再次处理。")
    with pytest.raises(Conflict, match="不在公示期"):
        submit_objection(in_notice, "王五", "13800002222", REASON, None, "10.0.0.2")


def test_objections_are_limited_per_address(in_notice):
    for n in range(5):
        submit_objection(in_notice, f"甲{n}", "13800001111", REASON, None, "10.0.0.9")
    with pytest.raises(TooManyRequests):
        submit_objection(in_notice, "甲5", "13800001111", REASON, None, "10.0.0.9")
    submit_objection(in_notice, "乙", "13800001111", REASON, None, "10.0.0.10")


def test_the_city_reads_decides_and_sees_the_evidence(world, in_notice, client):
    objection = submit_objection(in_notice, "李明", "13800001111", REASON,
                                 ("证据.pdf", io.BytesIO(SAMPLE_PDF)), "10.0.0.1")
    db.session.commit()
    login(client, "city")
    page = client.get(f"/admin/calls/{world['call'].id}/objections").get_data(as_text=True)
    assert "李明 · 13800001111" in page and REASON in page and "证据.pdf" in page
    evidence = client.get(f"/admin/objections/{objection.id}/evidence")
    assert evidence.get_data() == SAMPLE_PDF
    evidence.close()
    done = client.post(f"/admin/objections/{objection.id}/decide", data={
        "csrf_token": csrf_from(page), "decision": "dismissed",
        "outcome": "经核实，材料属实。"}, follow_redirects=True)
    assert "已认定异议不成立" in done.get_data(as_text=True)
    db.session.refresh(objection)
    assert objection.status == "dismissed"
    run_timers(datetime(2026, 6, 9, 0, 1, tzinfo=UTC) + timedelta(hours=8))
    db.session.refresh(in_notice)
    assert in_notice.state == "named"
