"""The printed application (申报书) and the call's ZIP of dossiers: what the PDF says to whom,
what the ZIP holds, and who may have them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from app.engine.errors import Conflict, Forbidden
from app.engine.runtime import fire
from app.extensions import db
from app.models import Certificate, Job
from app.services.application_print import application_pdf
from app.services.attachments import store_attachment
from app.services.demo import SAMPLE_PDF
from app.services.dossier_jobs import dossier_file, start_dossier_job
from app.services.reviews import assign_expert, save_review
from tests.conftest import TEAM_SCORES, confirmed

SCRIPT = "<script>alert(1)</script>"


def _text(pdf: bytes) -> str:
    """The PDF's text with all white space removed (CJK lines wrap anywhere)."""
    return "".join("".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf))
                   .pages)


@pytest.fixture
def named(world, make_application):
    """wj1's team, scored by expert1 (comment 很好), named, with a certificate and a scan."""
    users = world["users"]
    entry = make_application("wj1", name="湖塘太极拳队", introduction=SCRIPT)
    store_attachment(entry, "application_scan", "盖章 申报表.pdf", io.BytesIO(SAMPLE_PDF),
                     users["wj1"])
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "材料齐全，推荐"})
    save_review(confirmed(assign_expert(entry, users["expert1"], users["city"])),
                users["expert1"], TEAM_SCORES, "很好", submit=True)
    fire(entry, "publish_notice", users["city"])
    fire(entry, "name_team", users["city"])
    db.session.commit()
    return entry


def test_the_applicants_copy_has_the_form_and_attachments_but_no_admin_part(world, named):
    text = _text(application_pdf(named, world["users"]["wj1"]))

    for shown in ("申报书", "社区教育优秀团队遴选", "2026年度X市社区教育优秀团队遴选",
                  "湖塘太极拳队", "武进区单位1", "武进区", "团队负责人", "张三", "13912345678",
                  "美育与艺术鉴赏",
                  "集中学习、社区展演", "12人", "2021-03-15", "陈明", "副队长", "附件清单",
                  "章程.pdf", "盖章申报表.pdf"):
        assert shown in text, shown
    for hidden in ("办理结果", "办理记录", "专家评审", "很好", "专家一", "材料齐全"):
        assert hidden not in text, hidden


def test_a_script_in_a_field_prints_as_text(world, named):
    assert SCRIPT in _text(application_pdf(named, world["users"]["wj1"]))


def test_the_city_copy_adds_the_result_the_review_and_the_serial(world, named):
    serial = db.session.scalar(select(Certificate.serial))

    text = _text(application_pdf(named, world["users"]["city"]))

    for shown in ("办理结果", "已命名", f"{serial}（有效）", "专家评审", "专家一", "很好", "得分85",
                  "办理记录", "推荐至市级", "推荐排序：1", "材料齐全，推荐"):
        assert shown in text, shown


def test_the_district_copy_has_the_result_but_not_the_review(world, named):
    text = _text(application_pdf(named, world["users"]["wj_admin"]))

    assert "办理结果" in text and "办理记录" in text
    assert "专家评审" not in text and "专家一" not in text and "很好" not in text


def test_only_the_applicant_and_the_administrators_in_reach_may_print(world, named):
    users = world["users"]
    for outsider in ("wj2", "tn_admin", "expert1"):
        with pytest.raises(Forbidden):
            application_pdf(named, users[outsider])


def test_the_call_zip_holds_a_folder_per_entry_and_an_index(world, named, make_application):
    users = world["users"]
    other = make_application("tn1", name="天宁/书画:社")
    fire(other, "submit", users["tn1"])
    make_application("tn2", name="草稿队")  # a draft: never in the dossiers
    db.session.commit()

    record = start_dossier_job(world["call"], users["city"])
    db.session.commit()  # the immediate test queue builds the ZIP now

    record = db.session.get(Job, record.id)
    assert (record.status, record.total, record.done, record.failed) == ("done", 2, 2, 0)
    archive = zipfile.ZipFile(dossier_file(record))
    named_folder = f"武进区/{named.id}-湖塘太极拳队"
    other_folder = f"天宁区/{other.id}-天宁_书画_社"
    assert sorted(archive.namelist()) == sorted([
        "目录.xlsx", f"{named_folder}/申报书.pdf", f"{named_folder}/章程.pdf",
        f"{named_folder}/盖章_申报表.pdf", f"{other_folder}/申报书.pdf",
        f"{other_folder}/章程.pdf"])
    assert archive.read(f"{named_folder}/章程.pdf") == SAMPLE_PDF
    assert "办理结果" in _text(archive.read(f"{named_folder}/申报书.pdf"))  # the city's copy
    index = [list(row) for row in load_workbook(io.BytesIO(archive.read("目录.xlsx")))["目录"]
             .iter_rows(values_only=True)]
    assert [row[:3] for row in index] == [["序号", "申报编号", "申报名称"],
                                          [1, other.id, "天宁/书画:社"],
                                          [2, named.id, "湖塘太极拳队"]]
    assert [row[8:10] for row in index[1:]] == [[other_folder, 1], [named_folder, 2]]


def test_a_district_zip_holds_its_own_entries_with_its_copy(world, named, make_application):
    users = world["users"]
    other = make_application("tn1", name="天宁书画社")
    fire(other, "submit", users["tn1"])
    db.session.commit()

    record = start_dossier_job(world["call"], users["wj_admin"])
    db.session.commit()

    archive = zipfile.ZipFile(dossier_file(db.session.get(Job, record.id)))
    assert {name.split("/")[0] for name in archive.namelist()} == {"武进区", "目录.xlsx"}
    pdf = _text(archive.read(f"武进区/{named.id}-湖塘太极拳队/申报书.pdf"))
    assert "办理结果" in pdf and "专家评审" not in pdf


def test_a_new_zip_replaces_the_last_one_and_others_are_refused(world, named, tmp_path):
    users = world["users"]
    first = start_dossier_job(world["call"], users["city"])
    db.session.commit()
    first_file = dossier_file(first)
    assert first_file.exists()

    second = start_dossier_job(world["call"], users["city"])
    db.session.commit()

    assert dossier_file(second).exists() and not first_file.exists()
    assert not list(Path(tmp_path / "exports" / "dossiers").glob("*.part"))
    for outsider in ("wj1", "expert1"):
        with pytest.raises(Forbidden):
            start_dossier_job(world["call"], users[outsider])


def test_no_zip_without_submitted_entries(world, make_application):
    make_application("wj1", name="草稿队")
    with pytest.raises(Conflict):
        start_dossier_job(world["call"], world["users"]["city"])


def test_experts_of_a_blind_round_are_not_named_in_the_city_copy(world, contest):
    judges, city = contest["judges"], world["users"]["city"]
    entry = contest["enter"]("wj1", "太极拳入门")
    for judge, points in zip(judges[:2], ((35, 25, 20), (30, 20, 20)), strict=True):
        save_review(confirmed(assign_expert(entry, judge, city)), judge,
                    dict(zip(("design", "materials", "presentation"), points, strict=True)),
                    "设计完整", submit=True)
    db.session.commit()

    text = _text(application_pdf(entry, city))

    assert "初赛网评（匿名评审）" in text and "得分75.00" in text
    assert "专家1" in text and "专家2" in text and "设计完整" in text
    assert "评委1" not in text and "评委2" not in text and "judge1" not in text
