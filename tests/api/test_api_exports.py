"""A call's exports over the API, as an acceptance tester drives them: the workbooks opened with
openpyxl and checked against the database, the 申报书's text, the dossier ZIP built by a job, and
who is refused."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, Job
from app.services.programmes import programme_of
from tests.api.conftest import problem

LOCAL = ZoneInfo("Asia/Shanghai")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def entries(world, make_application):
    """wj1 recommended to the city, wj2 waiting for its district, tn1 waiting, tn2 a draft."""
    users = world["users"]
    first = make_application("wj1", name="湖塘太极拳队", leader="张建国", member_count=15)
    second = make_application("wj2", name="牛塘合唱团", leader="刘美华")
    third = make_application("tn1", name="天宁书画社", leader="周红", founded_on="2019-09-01")
    make_application("tn2", name="草稿队")
    for entry in (first, second, third):
        fire(entry, "submit", entry.applicant)
    fire(first, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "材料齐全"})
    db.session.commit()
    return {"first": first, "second": second, "third": third}


def _sheet(response, name="申报信息"):
    """A downloaded workbook's sheet as a list of rows."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == XLSX
    workbook = load_workbook(io.BytesIO(response.get_data()))
    return [list(row) for row in workbook[name].iter_rows(values_only=True)]


def _as_records(rows):
    """Rows as {header: value} dicts."""
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def _stored(call_id, district=None):
    """The call's submitted entries as stored, in the export's default order."""
    query = select(Application).where(Application.call_id == call_id,
                                      Application.submitted_at.is_not(None))
    if district is not None:
        query = query.where(Application.district_id == district)
    db.session.expire_all()
    return list(db.session.scalars(query.order_by(Application.district_id,
                                                  Application.submitted_at, Application.id)))


def _matches(record, application):
    """Whether an exported row says what the database holds about the entry."""
    data = application.data
    submitted = application.submitted_at.astimezone(LOCAL).replace(tzinfo=None)
    assert abs(record["提交时间"] - submitted) < timedelta(seconds=1)
    assert record["成立时间"].date() == date.fromisoformat(data["founded_on"])
    return [record["申报编号"], record["申报名称"], record["申报单位"], record["所属区"],
            record["当前状态"], record["团队负责人"], record["团队人数（人）"],
            record["主要成员（行数）"]] == [
        application.id, application.title, application.org.name, application.district.name,
        programme_of(application).label(application.state), data["leader"],
        data["member_count"], len(data["members"])]


def test_the_city_exports_every_submitted_entry_as_stored(api, world, entries):
    call = world["call"]

    response = api.login("city").get(f"/api/v1/calls/{call.id}/applications.xlsx")

    records = _as_records(_sheet(response))
    stored = _stored(call.id)
    assert len(records) == len(stored) == 3  # the draft stays private
    assert all(_matches(r, a) for r, a in zip(records, stored, strict=True))
    first = next(r for r in records if r["申报编号"] == entries["first"].id)
    assert (first["区级推荐意见·推荐排序"], first["区级推荐意见·推荐意见"]) == (1, "材料齐全")
    members = _sheet(response, "主要成员")
    assert len(members) == 1 + 2 * 3 and members[1][:4] == [stored[0].id, stored[0].title,
                                                            stored[0].district.name, 1]
    disposition = response.headers["Content-Disposition"]
    assert f"filename*=UTF-8''{quote(call.title + '-申报信息.xlsx')}" in disposition
    assert response.headers["Cache-Control"] == "no-store"


def test_the_filters_and_order_of_the_call_page_apply(api, world, entries):
    city, call = api.login("city"), world["call"]
    url = f"/api/v1/calls/{call.id}/applications.xlsx"

    def ids(query):
        return [row[0] for row in _sheet(city.get(url + query))[1:]]

    assert ids("?state=district_review&sort=title") == sorted(
        [entries["second"].id, entries["third"].id],
        key=lambda i: db.session.get(Application, i).title)
    assert ids("?district=TN") == [entries["third"].id]
    assert ids("?q=合唱") == [entries["second"].id]
    assert ids("?q=武进区单位1") == [entries["first"].id]  # the unit's name
    assert ids("?sort=-submitted") == [entries["third"].id, entries["second"].id,
                                       entries["first"].id]
    assert problem(city.get(url + "?district=NOPE"), 422)["details"] == {"district": "没有这个区"}
    assert problem(city.get(url + "?sort=size"), 422)["details"] == {"sort": "size"}


def test_a_district_administrator_exports_only_their_district(api, world, entries):
    tn_admin, call = api.login("tn_admin"), world["call"]

    response = tn_admin.get(f"/api/v1/calls/{call.id}/applications.xlsx")
    other = tn_admin.get(f"/api/v1/calls/{call.id}/applications.xlsx?district=WJ")
    summary = tn_admin.get(f"/api/v1/calls/{call.id}/summary.xlsx")

    records = _as_records(_sheet(response))
    stored = _stored(call.id, entries["third"].district_id)
    assert [r["申报编号"] for r in records] == [a.id for a in stored] == [entries["third"].id]
    assert _matches(records[0], stored[0])
    assert quote("-天宁区-申报信息.xlsx") in response.headers["Content-Disposition"]
    assert _sheet(other)[1:] == []  # another district's filter finds nothing of theirs
    assert _sheet(summary, "汇总表")[1:] == [["天宁区", 1, 0, 1, None, 1]]


def test_the_summary_counts_what_the_database_holds(api, world, entries):
    call = world["call"]

    rows = _sheet(api.login("city").get(f"/api/v1/calls/{call.id}/summary.xlsx"), "汇总表")

    assert rows[0] == ["所属区", "申报数", "推荐数", "推荐名额", "最低推荐数", "区级初审",
                       "市级评审"]
    counts = dict(db.session.execute(
        select(Application.district_id, func.count()).where(
            Application.call_id == call.id, Application.submitted_at.is_not(None))
        .group_by(Application.district_id)).all())
    wj, tn = entries["first"].district_id, entries["third"].district_id
    assert rows[1:] == [["天宁区", counts[tn], 0, 1, None, 1, 0],
                        ["武进区", counts[wj], 1, 2, None, 1, 1],
                        ["合计", 3, 1, 3, None, 2, 1]]


def test_the_notice_list_holds_the_entries_in_notice(api, world, in_notice):
    city, call = api.login("city"), world["call"]

    rows = _sheet(city.get(f"/api/v1/calls/{call.id}/notice.xlsx"), "公示中")

    assert rows[1][0] == in_notice.title and rows[1][-1] == in_notice.org.name
    assert _sheet(api.login("tn_admin").get(f"/api/v1/calls/{call.id}/notice.xlsx"),
                  "公示中") == rows  # the list is public: the same for every district


def test_no_notice_list_is_a_json_conflict(api, world, entries):
    city, url = api.login("city"), f"/api/v1/calls/{world['call'].id}/notice.xlsx"
    assert problem(city.get(url), 409)["message"] == "本批次目前没有公示中的申报"
    english = problem(city.get(url, headers={"Accept-Language": "en"}), 409)
    assert english["message"] == "No application of this call is in public notice now"


def test_applicants_and_experts_get_no_call_exports(api, world, entries):
    call = world["call"]
    for username in ("wj1", "expert1"):
        caller = api.login(username)
        for export in ("applications.xlsx", "summary.xlsx", "notice.xlsx"):
            assert problem(caller.get(f"/api/v1/calls/{call.id}/{export}"), 403)
        assert problem(caller.post(f"/api/v1/calls/{call.id}/dossiers"), 403)
    assert problem(api.login("city").get("/api/v1/calls/999999/summary.xlsx"), 404)


def _text(response):
    """A PDF answer's text without white space (CJK lines wrap anywhere)."""
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return "".join("".join(page.extract_text().split())
                   for page in PdfReader(io.BytesIO(response.get_data())).pages)


def test_the_printed_application_has_the_entrys_values(api, world, entries):
    entry = entries["first"]
    url = f"/api/v1/applications/{entry.id}/print.pdf"

    own = _text(api.login("wj1").get(url))
    city = _text(api.login("city").get(url))

    for value in (entry.title, entry.org.name, "武进区", "张建国", "15人", "2021-03-15",
                  "陈明", "集中学习、社区展演", "章程.pdf", "附件清单"):
        assert value in own and value in city, value
    assert "办理结果" not in own and "办理记录" not in own
    assert "办理结果" in city and "材料齐全" in city
    assert "办理结果" in _text(api.login("wj_admin").get(url))
    for outsider in ("wj2", "tn_admin", "expert1"):
        assert problem(api.login(outsider).get(url), 403)
    assert problem(api.login("city").get("/api/v1/applications/999999/print.pdf"), 404)


def test_a_draft_prints_for_its_applicant_only(api, world, make_application):
    draft = make_application("wj1", name="草稿队")
    url = f"/api/v1/applications/{draft.id}/print.pdf"

    assert "尚未提交" in _text(api.login("wj1").get(url))
    assert problem(api.login("wj_admin").get(url), 403)
    assert problem(api.login("city").get(url), 403)


def test_a_district_builds_its_dossiers_and_only_it_fetches_them(api, world, entries):
    wj_admin, call = api.login("wj_admin"), world["call"]

    started = wj_admin.post(f"/api/v1/calls/{call.id}/dossiers")

    assert started.status_code == 202
    job = started.get_json()
    assert started.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert (job["kind"], job["options"]) == ("call_dossiers",
                                             {"district_id": entries["first"].district_id})
    status = wj_admin.get(started.headers["Location"]).get_json()
    assert (status["status"], status["done"], status["total"]) == ("done", 2, 2)
    download = wj_admin.get(f"/api/v1/jobs/{job['id']}/file")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert quote(f"{call.title}-武进区-申报书.zip") in download.headers["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(download.get_data()))
    first, second = entries["first"], entries["second"]
    assert sorted(archive.namelist()) == sorted([
        "目录.xlsx", f"武进区/{first.id}-湖塘太极拳队/申报书.pdf",
        f"武进区/{first.id}-湖塘太极拳队/章程.pdf", f"武进区/{second.id}-牛塘合唱团/申报书.pdf",
        f"武进区/{second.id}-牛塘合唱团/章程.pdf"])
    assert api.login("city").get(f"/api/v1/jobs/{job['id']}/file").status_code == 200
    tn_admin = api.login("tn_admin")
    assert problem(tn_admin.get(f"/api/v1/jobs/{job['id']}"), 403)
    assert problem(tn_admin.get(f"/api/v1/jobs/{job['id']}/file"), 403)
    assert problem(api.login("wj1").get(f"/api/v1/jobs/{job['id']}"), 403)


def test_the_citys_dossiers_hold_every_district_and_stay_the_citys(api, world, entries):
    city, call = api.login("city"), world["call"]

    job = city.post(f"/api/v1/calls/{call.id}/dossiers").get_json()

    names = zipfile.ZipFile(io.BytesIO(city.get(f"/api/v1/jobs/{job['id']}/file")
                                       .get_data())).namelist()
    assert {name.split("/")[0] for name in names} == {"目录.xlsx", "武进区", "天宁区"}
    assert problem(api.login("wj_admin").get(f"/api/v1/jobs/{job['id']}"), 403)
    assert problem(api.login("wj_admin").get(f"/api/v1/jobs/{job['id']}/file"), 403)


def test_no_dossiers_without_submitted_entries(api, world, make_application):
    make_application("tn1", name="草稿队")
    answer = problem(api.login("tn_admin").post(f"/api/v1/calls/{world['call'].id}/dossiers"),
                     409)
    assert answer["message"] == "本批次还没有已提交的申报"
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def _jobs():
    """How many background jobs are stored."""
    return db.session.scalar(select(func.count()).select_from(Job))


def test_a_big_calls_workbook_is_refused_on_get_and_built_on_post(app, api, world, entries,
                                                                   held_queue):
    app.config["EXPORT_INLINE_LIMIT"] = 1
    wj_admin, call = api.login("wj_admin"), world["call"]
    start = f"/api/v1/calls/{call.id}/application-exports"

    refused = problem(wj_admin.get(f"/api/v1/calls/{call.id}/applications.xlsx"), 409)

    assert refused["details"] == {"count": 2, "limit": 1, "start": f"POST {start}"}
    assert _jobs() == 0  # asking for the file starts nothing
    started = wj_admin.post(start, json={"sort": "-submitted"})
    again = wj_admin.post(start + "?sort=-submitted")  # the query serves as well as the body
    assert started.status_code == again.status_code == 202
    job = started.get_json()
    assert started.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert again.get_json()["id"] == job["id"] and _jobs() == 1  # waiting: the same job
    assert (job["kind"], job["status"], job["total"]) == ("applications_export", "queued", 2)
    assert job["options"]["filter"]["sort"] == "-submitted"
    assert held_queue() == 1
    status = wj_admin.get(started.headers["Location"]).get_json()
    assert (status["status"], status["done"], status["total"]) == ("done", 2, 2)
    download = wj_admin.get(f"/api/v1/jobs/{job['id']}/file")
    assert quote(f"{call.title}-武进区-申报信息.xlsx") in download.headers["Content-Disposition"]
    records = _as_records(_sheet(download))
    stored = _stored(call.id, entries["first"].district_id)[::-1]
    assert [r["申报编号"] for r in records] == [a.id for a in stored]
    assert all(_matches(r, a) for r, a in zip(records, stored, strict=True))
    assert problem(api.login("tn_admin").get(f"/api/v1/jobs/{job['id']}/file"), 403)
    small = api.login("tn_admin").get(f"/api/v1/calls/{call.id}/applications.xlsx")
    assert small.status_code == 200  # one entry: at the limit, still at once


def test_a_workbook_job_takes_the_filters_of_the_download(api, world, entries):
    city, call = api.login("city"), world["call"]
    start = f"/api/v1/calls/{call.id}/application-exports"

    job = city.post(start, json={"district": "TN", "q": "书画"}).get_json()

    assert job["options"] == {"district_id": None, "filter": {
        "state": "", "district_id": entries["third"].district_id, "q": "书画", "sort": ""}}
    rows = _sheet(city.get(f"/api/v1/jobs/{job['id']}/file"))
    assert [row[0] for row in rows[1:]] == [entries["third"].id]
    assert problem(city.post(start, json={"district": "NOPE"}), 422)["details"] == {
        "district": "没有这个区"}
    assert problem(city.post(start, json={"q": 5}), 422)["details"] == {"q": "应为字符串"}
    assert problem(city.post(start + "?sort=size"), 422)["details"] == {"sort": "size"}
    assert problem(api.login("wj1").post(start), 403)
    assert _jobs() == 1


def test_a_job_file_is_refused_while_there_is_none(api, world, entries):
    city, call = api.login("city"), world["call"]
    first = city.post(f"/api/v1/calls/{call.id}/dossiers").get_json()
    second = city.post(f"/api/v1/calls/{call.id}/dossiers").get_json()

    answer = problem(city.get(f"/api/v1/jobs/{first['id']}/file"), 409)

    assert answer["message"] == "该文件已被更新的导出取代，请重新生成"
    assert city.get(f"/api/v1/jobs/{second['id']}/file").status_code == 200


def test_a_print_run_file_stays_the_citys_and_is_logged(api, world, make_application):
    from app.models import CertificateDownload
    from app.services.reviews import assign_expert, save_review
    from tests.conftest import TEAM_SCORES, confirmed

    users = world["users"]
    entry = make_application("wj1", name="湖塘太极拳队")
    fire(entry, "submit", users["wj1"])
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    save_review(confirmed(assign_expert(entry, users["expert1"], users["city"])),
                users["expert1"], TEAM_SCORES, "", submit=True)
    fire(entry, "publish_notice", users["city"])
    fire(entry, "name_team", users["city"])
    db.session.commit()
    city = api.login("city")

    job = city.post(f"/api/v1/calls/{world['call'].id}/certificates/print").get_json()
    download = city.get(f"/api/v1/jobs/{job['id']}/file")

    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert len(PdfReader(io.BytesIO(download.get_data())).pages) == 1
    assert db.session.scalar(select(CertificateDownload.kind)) == "print"
    assert problem(api.login("wj_admin").get(f"/api/v1/jobs/{job['id']}/file"), 403)
    assert problem(api.login("wj_admin").get(f"/api/v1/jobs/{job['id']}"), 403)
