"""Administrator commands, run as an administrator would."""

from __future__ import annotations

import shutil

from sqlalchemy import func, select

from app.config import ROOT
from app.extensions import db
from app.models import Application, CallRound, Certificate, Organisation, Panel, User


def test_orgs_and_users_are_added_from_the_command_line(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["orgs", "add", "X", "X市", "--kind", "city"]).exit_code == 0
    result = runner.invoke(args=["orgs", "add", "WJ", "武进区", "--kind", "district",
                                 "--parent", "X"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "add", "li", "--role", "district_admin", "--org", "WJ",
                                 "--name", "李明", "--email", " li@wj.example.cn ",
                                 "--phone", "0519-86000000", "--password-stdin"],
                           input="a-long-secret\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).filter_by(username="li"))
    assert user.name == "李明" and user.role == "district_admin"
    assert (user.email, user.phone) == ("li@wj.example.cn", "0519-86000000")
    assert user.check_password("a-long-secret")
    assert user.district_id == db.session.scalar(select(Organisation.id).filter_by(code="WJ"))
    result = runner.invoke(args=["users", "add", "wang", "--role", "expert", "--org", "WJ",
                                 "--title", "教授", "--expertise", "美育与艺术鉴赏，体育与健康养生",
                                 "--password-stdin"], input="a-long-secret\n")
    assert result.exit_code == 0, result.output
    expert = db.session.scalar(select(User).filter_by(username="wang"))
    assert expert.title == "教授" and expert.expertise == ["体育与健康养生", "美育与艺术鉴赏"]


def test_bad_input_is_refused_with_a_message(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["orgs", "add", "WJ", "武进区", "--kind", "district",
                                 "--parent", "NOPE"])
    assert result.exit_code == 1
    assert "上级机构不存在：NOPE" in result.output
    runner.invoke(args=["orgs", "add", "X", "X市", "--kind", "city"])
    result = runner.invoke(args=["users", "add", "weak", "--role", "applicant", "--org", "X",
                                 "--password-stdin"], input="short\n")
    assert result.exit_code == 1
    assert "密码至少 8 位" in result.output
    result = runner.invoke(args=["users", "add", "mail", "--role", "applicant", "--org", "X",
                                 "--email", "not an address", "--password-stdin"],
                           input="a-long-secret\n")
    assert result.exit_code == 1
    assert "电子邮箱格式不正确：not an address" in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_workflows_check_and_show(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["workflows", "check"])
    assert result.exit_code == 0, result.output
    assert "ok  excellent_team v4" in result.output
    shown = runner.invoke(args=["workflows", "show", "excellent_team"])
    assert "recommend" in shown.output and "district_review -> city_review" in shown.output
    assert "within_quota" in shown.output
    assert runner.invoke(args=["workflows", "show", "nope"]).exit_code == 1


def test_workflows_check_reports_broken_files(app, tmp_path):
    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    (tmp_path / "workflows").mkdir()
    text = (ROOT / "workflows" / "excellent_team.yaml").read_text(encoding="utf-8")
    (tmp_path / "workflows" / "excellent_team.yaml").write_text(
        text.replace("dest: city_review", "dest: city_reveiw"), encoding="utf-8")
    app.config.update(WORKFLOWS_DIR=str(tmp_path / "workflows"),
                      FORMS_DIR=str(tmp_path / "forms"))
    result = app.test_cli_runner().invoke(args=["workflows", "check"])
    assert result.exit_code == 1
    assert "workflows/excellent_team.yaml: transitions[4].dest: unknown state 'city_reveiw'" \
        in result.output


def test_demo_load_fills_an_empty_database_once(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "hutang" in result.output and "pingshen-demo" in result.output
    states = set(db.session.scalars(select(Application.state)))
    assert {"draft", "district_review", "returned", "city_review", "notice", "named",  # 优秀团队
            "city_final", "eliminated",  # 教师能力大赛: live final ready to start
            "tracking_year1"} <= states  # 示范中心: approved, writing its first-year report
    assert db.session.scalar(select(func.count()).select_from(Panel)) == 1
    assert db.session.scalar(select(CallRound.closed_at)) is not None  # preliminary closed
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 1
    before = db.session.scalar(select(func.count()).select_from(Application))
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert "not loaded" in again.output
    assert db.session.scalar(select(func.count()).select_from(Application)) == before == 11
    forced = runner.invoke(args=["demo", "load"])  # without --if-empty: refused, not a traceback
    assert forced.exit_code == 1, forced.output
    assert "already in the database" in forced.output
    assert db.session.scalar(select(func.count()).select_from(Application)) == 11


def test_a_stored_result_is_verified_from_the_command_line(app, world, contest):
    from app.services.reviews import assign_expert, save_review
    from app.services.rounds import close_round
    from tests.conftest import confirmed

    city = world["users"]["city"]
    entry = contest["enter"]("wj1", "太极拳入门")
    for judge in contest["judges"][:3]:
        sheet = confirmed(assign_expert(entry, judge, city))
        save_review(sheet, judge, {"design": 30, "materials": 25, "presentation": 25}, "",
                    submit=True)
    result = close_round(contest["call"], "city_preliminary", city)
    db.session.commit()
    runner = app.test_cli_runner()

    ok = runner.invoke(args=["reviews", "verify", str(result.id)])
    assert ok.exit_code == 0, ok.output
    assert f"fingerprint {result.fingerprint} matches" in ok.output
    assert "same result" in ok.output

    result.results = [{**result.results[0], "score": "99"}]
    db.session.commit()
    changed = runner.invoke(args=["reviews", "verify", str(result.id)])
    assert changed.exit_code == 1
    assert f"entry {entry.id}: stored 99, recomputed 80" in changed.output
    assert runner.invoke(args=["reviews", "verify", "424242"]).exit_code == 1


def _exported(world, make_application):
    """wj1 and wj2 submitted (wj1 recommended), tn1 submitted, tn2 a draft."""
    from app.engine.runtime import fire

    users = world["users"]
    entries = [make_application(name, name=f"{name}队") for name in ("wj1", "wj2", "tn1", "tn2")]
    for entry in entries[:3]:
        fire(entry, "submit", entry.applicant)
    fire(entries[0], "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐"})
    db.session.commit()
    return entries


def _rows(path, sheet):
    """The rows of a written workbook's sheet."""
    from openpyxl import load_workbook

    return [list(row) for row in load_workbook(path)[sheet].iter_rows(values_only=True)]


def test_a_calls_workbooks_are_written_from_the_command_line(app, world, make_application,
                                                             tmp_path, monkeypatch):
    entries = _exported(world, make_application)
    call = world["call"]
    monkeypatch.chdir(tmp_path)
    runner = app.test_cli_runner()

    whole = runner.invoke(args=["export", "applications", str(call.id)])
    district = runner.invoke(args=["export", "applications", str(call.id), "--district", "TN",
                                   "-o", str(tmp_path / "tn.xlsx")])
    summary = runner.invoke(args=["export", "summary", str(call.id), "--district", "WJ"])

    assert whole.exit_code == district.exit_code == summary.exit_code == 0, whole.output
    written = tmp_path / f"{call.title}-申报信息.xlsx"
    assert f"wrote {written.name}" in whole.output
    stored = list(db.session.scalars(select(Application).where(
        Application.call_id == call.id, Application.submitted_at.is_not(None))
        .order_by(Application.district_id, Application.submitted_at)))
    assert [row[:4] for row in _rows(written, "申报信息")[1:]] == [
        [a.id, a.title, a.org.name, a.district.name] for a in stored]
    assert [row[0] for row in _rows(tmp_path / "tn.xlsx", "申报信息")[1:]] == [entries[2].id]
    assert _rows(tmp_path / f"{call.title}-武进区-汇总表.xlsx", "汇总表")[1:] == [
        ["武进区", 2, 1, 2, None, 1, 1]]
    assert db.session.scalar(select(func.count()).select_from(User)) == len(world["users"])


def test_the_dossiers_are_built_in_the_command_with_progress_lines(app, world, make_application,
                                                                    tmp_path, monkeypatch):
    import zipfile

    from app import cli_exports
    from app.services import dossier_jobs

    entries = _exported(world, make_application)
    call = world["call"]
    monkeypatch.setattr(dossier_jobs, "CHUNK", 1)  # report after every entry,
    monkeypatch.setattr(cli_exports, "PROGRESS_EVERY", 2)  # print after every second
    target = tmp_path / "wj.zip"

    result = app.test_cli_runner().invoke(args=["export", "dossiers", str(call.id),
                                                "--district", "WJ", "-o", str(target)])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["2/2", f"已写入 / wrote {target}: 2 entries"]
    names = zipfile.ZipFile(target).namelist()
    assert sorted(names) == sorted(["目录.xlsx"] + [
        f"武进区/{e.id}-{e.title}/{name}" for e in entries[:2] for name in ("申报书.pdf",
                                                                           "章程.pdf")])
    everything = app.test_cli_runner().invoke(args=["export", "dossiers", str(call.id),
                                                    "-o", str(tmp_path / "all.zip")])
    assert everything.output.splitlines()[:2] == ["2/3", "3/3"]
    assert {n.split("/")[0] for n in zipfile.ZipFile(tmp_path / "all.zip").namelist()} == {
        "目录.xlsx", "武进区", "天宁区"}


def test_exports_refused_on_the_command_line_say_why(app, world, make_application, tmp_path):
    call = world["call"]
    runner = app.test_cli_runner()
    make_application("tn1", name="草稿队")

    for args, message in ((["applications", "424242"], "批次不存在：424242"),
                          (["summary", str(call.id), "--district", "NOPE"], "没有这个区：NOPE"),
                          (["notice", str(call.id), "-o", str(tmp_path / "n.xlsx")],
                           "本批次目前没有公示中的申报"),
                          (["dossiers", str(call.id), "--district", "TN"],
                           "本批次还没有已提交的申报")):
        result = runner.invoke(args=["export", *args])
        assert result.exit_code == 1, args
        assert message in result.output, result.output
    assert not (tmp_path / "n.xlsx").exists()
