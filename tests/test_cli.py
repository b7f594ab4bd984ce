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
                                 "--password-stdin"], input="12345678\n")
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
