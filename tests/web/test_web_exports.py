"""The export pages and downloads as administrators, applicants and experts meet them."""

from __future__ import annotations

import io
import re
import zipfile
from urllib.parse import quote

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Job


def _rows(page, sheet="申报信息"):
    """The rows of a downloaded workbook's sheet."""
    workbook = load_workbook(io.BytesIO(page.response.get_data()))
    return [list(row) for row in workbook[sheet].iter_rows(values_only=True)]


def _entries(world, make_application, advance):
    """wj1 recommended to the city, wj2 waiting for its district, tn1 waiting too."""
    first = advance(make_application("wj1", name="湖塘太极拳队"), "city_review")
    second = advance(make_application("wj2", name="牛塘合唱团"), "district_review")
    third = advance(make_application("tn1", name="天宁书画社"), "district_review")
    return first, second, third


def test_the_city_exports_the_entries_as_filtered_on_the_call_page(world, make_application,
                                                                    advance, browser):
    first, second, third = _entries(world, make_application, advance)
    call = world["call"]
    city = browser("city")

    page = city.get(f"/admin/calls/{call.id}?state=district_review")
    link = re.search(r'href="([^"]*applications\.xlsx[^"]*)"', page.text).group(1)
    download = city.get(link.replace("&amp;", "&"))

    assert download.status == 200
    assert [row[0] for row in _rows(download)[1:]] == [second.id, third.id]
    disposition = download.response.headers["Content-Disposition"]
    assert f"filename*=UTF-8''{quote(call.title + '-申报信息.xlsx')}" in disposition
    assert download.response.headers["Cache-Control"] == "private, no-store"
    everything = city.get(f"/admin/calls/{call.id}/applications.xlsx")
    assert [row[0] for row in _rows(everything)[1:]] == [first.id, second.id, third.id]
    summary = city.get(f"/admin/calls/{call.id}/summary.xlsx")
    assert [row[:3] for row in _rows(summary, "汇总表")] == [
        ["所属区", "申报数", "推荐数"], ["天宁区", 1, 0], ["武进区", 2, 1], ["合计", 3, 1]]


def test_a_district_administrator_exports_their_own_district(world, make_application, advance,
                                                             browser):
    first, second, third = _entries(world, make_application, advance)
    call = world["call"]
    district = browser("tn_admin")

    page = district.get(f"/admin/calls/{call.id}/exports")
    download = district.get(f"/admin/calls/{call.id}/applications.xlsx?district=")
    other = district.get(f"/admin/calls/{call.id}/applications.xlsx?district="
                         f"{first.district_id}")
    summary = district.get(f"/admin/calls/{call.id}/summary.xlsx")

    assert page.status == 200 and "天宁区" in page.text
    assert [row[0] for row in _rows(download)[1:]] == [third.id]
    assert quote("-天宁区-申报信息.xlsx") in download.response.headers["Content-Disposition"]
    assert _rows(other)[1:] == []  # another district's filter finds nothing of theirs
    assert [row[0] for row in _rows(summary, "汇总表")] == ["所属区", "天宁区"]


def test_applicants_and_experts_get_no_exports(world, make_application, advance, browser):
    _entries(world, make_application, advance)
    call = world["call"]
    for username in ("wj1", "expert1"):
        user = browser(username)
        for url in ("exports", "applications.xlsx", "summary.xlsx", "notice.xlsx"):
            assert user.get(f"/admin/calls/{call.id}/{url}").status == 403, (username, url)


def test_no_notice_list_goes_back_with_a_reason(world, browser):
    city = browser("city")

    page = city.get(f"/admin/calls/{world['call'].id}/notice.xlsx")

    assert page.status == 302
    assert "本批次目前没有公示中的申报" in city.get(page.response.headers["Location"]).text


def test_the_applicant_prints_the_application_from_its_page(world, make_application, browser):
    entry = make_application("wj1", name="湖塘太极拳队")
    owner = browser("wj1")

    page = owner.get(f"/applications/{entry.id}")
    link = re.search(r'href="([^"]*print\.pdf)"', page.text).group(1)
    pdf = owner.get(link)

    assert pdf.status == 200 and pdf.response.mimetype == "application/pdf"
    text = "".join(PdfReader(io.BytesIO(pdf.response.get_data())).pages[0].extract_text()
                   .split())
    assert "申报书" in text and "湖塘太极拳队" in text and "尚未提交" in text
    assert browser("wj2").get(link).status == 403
    assert browser("wj_admin").get(link).status == 403  # a draft: not theirs to see yet
    fire(entry, "submit", entry.applicant)
    db.session.commit()
    assert browser("wj_admin").get(link).status == 200
    assert browser("tn_admin").get(link).status == 403


def test_the_dossier_zip_is_built_followed_and_downloaded(world, make_application, advance,
                                                          browser):
    first, second, third = _entries(world, make_application, advance)
    call = world["call"]
    city = browser("city")

    page = city.get(f"/admin/calls/{call.id}/exports")
    started = city.submit(page, page.form("/dossiers"))
    assert started.status == 302
    page = city.get(f"/admin/calls/{call.id}/exports")
    link = re.search(r'href="(/admin/dossier-jobs/(\d+)/file)"', page.text)
    download = city.get(link.group(1))

    assert download.status == 200 and download.response.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(download.response.get_data())).namelist()
    assert f"武进区/{first.id}-湖塘太极拳队/申报书.pdf" in names
    assert f"天宁区/{third.id}-天宁书画社/申报书.pdf" in names
    progress = city.get(f"/admin/dossier-jobs/{link.group(2)}").response.get_json()
    assert (progress["status"], progress["done"], progress["total"]) == ("done", 3, 3)
    district = browser("tn_admin")
    assert district.get(link.group(1)).status == 403  # the city's ZIP holds every district
    assert district.get(f"/admin/dossier-jobs/{link.group(2)}").status == 403
    assert "dossier-jobs" not in district.get(f"/admin/calls/{call.id}/exports").text


def _jobs():
    """How many background jobs are stored."""
    return db.session.scalar(select(func.count()).select_from(Job))


def test_a_big_calls_workbook_is_started_by_a_post_never_by_the_link(
        app, world, make_application, advance, browser, held_queue):
    first, second, third = _entries(world, make_application, advance)
    call = world["call"]
    app.config["EXPORT_INLINE_LIMIT"] = 1
    city = browser("city")

    small = city.get(f"/admin/calls/{call.id}/applications.xlsx?q=湖塘")
    asked = city.get(f"/admin/calls/{call.id}/applications.xlsx?state=district_review"
                     "&sort=-submitted")
    page = city.get(asked.response.headers["Location"])

    assert small.status == 200  # one entry: at the limit, still downloaded at once
    assert asked.status == 302 and _jobs() == 0  # the link starts nothing
    assert asked.response.headers["Location"].endswith("#applications")
    assert "本批次申报较多（2 项），申报信息表将在后台生成：请点击“生成申报信息表”。" in page.text
    assert "生成申报信息表（2 项）" in page.text
    form = page.form("/application-exports")
    assert (form.value("state"), form.value("sort")) == ("district_review", "-submitted")
    forged = city.client.post(f"/admin/calls/{call.id}/application-exports",
                              data=dict(form.fields) | {"csrf_token": ""})
    assert forged.status_code == 400 and _jobs() == 0  # no CSRF token: refused

    started = city.submit(page, form)
    again = city.submit(page, form)  # while it waits for the worker: the same job
    assert started.status == again.status == 302 and _jobs() == 1
    assert held_queue() == 1
    page = city.get(started.response.headers["Location"])
    link = re.search(r'href="(/admin/dossier-jobs/(\d+)/file)">([^<]*)<', page.text)
    download = city.get(link.group(1))

    assert "2" in link.group(3)  # the entries it holds
    assert [row[0] for row in _rows(download)[1:]] == [third.id, second.id]
    assert quote(call.title + "-申报信息.xlsx") in download.response.headers[
        "Content-Disposition"]
    progress = city.get(f"/admin/dossier-jobs/{link.group(2)}").response.get_json()
    assert (progress["kind"], progress["status"], progress["done"]) == (
        "applications_export", "done", 2)
    district = browser("wj_admin")
    assert district.get(link.group(1)).status == 403  # the city's workbook: every district
    assert "dossier-jobs" not in district.get(f"/admin/calls/{call.id}/exports").text


def test_a_small_calls_export_page_offers_no_background_workbook(world, make_application,
                                                                 advance, browser):
    _entries(world, make_application, advance)

    page = browser("city").get(f"/admin/calls/{world['call'].id}/exports")

    assert "/application-exports" not in page.text and 'id="applications"' not in page.text


def test_a_workbook_being_built_shows_its_progress(world, browser):
    call = world["call"]
    db.session.add(Job(kind="applications_export", call_id=call.id, status="running", total=3000,
                       done=1000, created_by_id=world["users"]["city"].id,
                       options={"district_id": None, "filter": {}}))
    db.session.commit()

    page = browser("city").get(f"/admin/calls/{call.id}/exports")

    box = re.search(r'<div id="applications">.*?</div>\s*</div>', page.text, re.S).group(0)
    assert 'value="33"' in box and "已完成 1000 / 3000 项申报" in box
    assert "/file" not in box
