"""On-site scoring in the browser: the chair draws lots and opens entries, judges score, the
board shows who has submitted and the score once the panel is complete; invitations."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import CallInvitation, Panel, ReviewAssignment
from app.services.invitations import invite
from app.services.reviews import assign_expert, save_review
from tests.conftest import confirmed

ONLINE = {"design": 30, "materials": 25, "presentation": 25}
FINAL_FORM = {"criterion_analysis": "20", "criterion_process": "25", "criterion_guidance": "12",
              "criterion_resources": "4", "criterion_delivery": "8", "criterion_technology": "11",
              "comment": "表达清楚"}


def _finalists(world, contest):
    city, judges = world["users"]["city"], contest["judges"]
    entries = []
    for who in ("wj1", "wj2"):
        entry = contest["enter"](who, f"{who}的课程")
        for judge in judges[:3]:
            save_review(confirmed(assign_expert(entry, judge, city)), judge, ONLINE, "", True)
        fire(entry, "advance", city)
        entries.append(entry)
    db.session.commit()
    return entries


def test_a_live_final_from_panel_to_the_score_on_the_board(world, contest, browser):
    _finalists(world, contest)
    judges = contest["judges"]
    city = browser("city")
    url = f"/admin/calls/{contest['call'].id}/rounds/city_final"
    page = city.get(url)
    created = city.submit(page, page.form("/panels"), {
        "name": "决赛一组", "members": [str(j.id) for j in judges[2:5]],
        "chair": str(judges[2].id)})
    assert created.status == 302
    page = city.get(url)
    assert "专家组已创建。" in page.text and "决赛一组" in page.text
    only_general = city.submit(page, page.form("/assign"), {"only": "category=通识课程说课展示"})
    assert "已为决赛一组分配 0 项评审任务。" in city.get(
        only_general.response.headers["Location"]).text  # both finalists are 技能课程
    assigned = city.submit(page, page.form("/assign"), {"only": "category=技能课程说课展示"})
    assert "已为决赛一组分配 6 项评审任务。" in city.get(assigned.response.headers["Location"]).text
    panel = db.session.scalar(select(Panel))
    for sheet in db.session.scalars(select(ReviewAssignment).filter_by(round="city_final")):
        confirmed(sheet)
    db.session.commit()

    chair = browser("judge3")
    board = chair.get(f"/reviews/panels/{panel.id}")
    assert "尚未抽签确定出场顺序" in board.text
    chair.submit(board, board.form("/draw"))
    db.session.refresh(panel)
    first = panel.draw_order[0]
    board = chair.get(f"/reviews/panels/{panel.id}")
    assert "出场顺序（评委3 于" in board.text and "开启评分" in board.text
    judge = browser("judge4")
    sheet = db.session.scalar(select(ReviewAssignment).filter_by(
        application_id=first, expert_id=judges[3].id, round="city_final"))
    form_page = judge.get(f"/reviews/{sheet.id}")
    early = judge.submit(form_page, form_page.form(), FINAL_FORM, button=("action", "submit"))
    assert early.status == 409 and "请等组长开启该作品后再评分" in early.text

    opened = chair.submit(board, board.form("/open"))  # the first in the drawn order
    assert opened.status == 302
    state = judge.get(f"/reviews/panels/{panel.id}/state")
    for member in ("judge3", "judge4", "judge5"):
        b = browser(member)
        own = db.session.scalar(select(ReviewAssignment).filter_by(
            application_id=first, expert_id=contest["judges"][int(member[-1]) - 1].id,
            round="city_final"))
        p = b.get(f"/reviews/{own.id}")
        assert "返回现场评分看板" in p.text and "提交并评下一个" not in p.text
        done = b.submit(p, p.form(), FINAL_FORM, button=("action", "submit"))
        assert done.status == 302, done.text[:400]
        assert done.response.headers["Location"].endswith(f"/reviews/panels/{panel.id}")
    assert judge.get(f"/reviews/panels/{panel.id}/state").response.get_json() \
        != state.response.get_json()  # screens polling this reload themselves
    board = judge.get(f"/reviews/panels/{panel.id}")
    assert "评分已齐。得分：80.00" in board.text


def test_an_expert_answers_an_invitation_and_the_city_sees_it(world, contest, browser):
    invite(contest["call"], contest["judges"][:2], world["users"]["city"])
    db.session.commit()
    judge = browser("judge1")
    queue = judge.get("/reviews/")
    assert "评审邀请：2026年X市社区教育教师能力大赛" in queue.text
    refused = judge.submit(queue, queue.form("/invitations/"), button=("answer", "decline"))
    assert refused.status == 302 and "请说明不能参加的原因" in judge.get("/reviews/").text
    assert db.session.scalar(select(CallInvitation.status).filter_by(
        expert_id=contest["judges"][0].id)) == "invited"
    judge.submit(queue, queue.form("/invitations/"), {"reason": "出差"},
                 button=("answer", "decline"))
    db.session.expire_all()
    assert db.session.scalar(select(CallInvitation.status).filter_by(
        expert_id=contest["judges"][0].id)) == "declined"
    page = browser("city").get(f"/admin/calls/{contest['call'].id}/experts")
    assert "已谢绝" in page.text and "出差" in page.text and "尚未答复" in page.text


def test_the_city_downloads_the_sheets_and_the_ranking_as_excel(world, contest, browser):
    _finalists(world, contest)
    city = browser("city")
    sheets = city.get(f"/admin/calls/{contest['call'].id}/review-sheets.xlsx").response
    ranking = city.get(f"/admin/calls/{contest['call'].id}/ranking.xlsx").response
    assert sheets.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in sheets.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(sheets.get_data()))
    rows = list(workbook["评分明细"].iter_rows(values_only=True))
    assert len(rows) == 1 + 6  # header and the six preliminary sheets
    names = [r[0] for r in load_workbook(io.BytesIO(ranking.get_data()))["排名"]
             .iter_rows(values_only=True)]
    assert names[0] == "名次" and names[1:] == ["缺轮次", "缺轮次"]
    assert browser("judge1").get(
        f"/admin/calls/{contest['call'].id}/ranking.xlsx").status == 403
