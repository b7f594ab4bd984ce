"""On-site scoring in the browser: the chair draws lots and opens entries, judges score, the
board shows who has submitted and the score once the panel is complete; invitations."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application, CallInvitation, Panel, ReviewAssignment, User
from app.services.accounts import issue_token
from app.services.invitations import invite
from app.services.panels import assign_panel, create_panel, draw_order, open_entry
from app.services.reviews import assign_expert, save_review
from tests.conftest import confirmed
from tests.statements import recorded

ONLINE = {"design": 30, "materials": 25, "presentation": 25}
FINAL_FORM = {"criterion_analysis": "20", "criterion_process": "25", "criterion_guidance": "12",
              "criterion_resources": "4", "criterion_delivery": "8", "criterion_technology": "11",
              "comment": "表达清楚"}
FINAL = {"analysis": 20, "process": 25, "guidance": 12, "resources": 4, "delivery": 8,
         "technology": 11}  # 80, as FINAL_FORM


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


def test_the_board_runs_as_many_statements_for_four_scored_entries_as_for_two(world, contest,
                                                                             browser):
    city, judges = world["users"]["city"], contest["judges"]
    finalists = []
    for who in ("wj1", "wj2", "wj3", "tn1", "tn2", "tn3"):
        entry = contest["enter"](who, f"{who}的课程")
        for judge in judges[:3]:
            save_review(confirmed(assign_expert(entry, judge, city)), judge, ONLINE, "", True)
        fire(entry, "advance", city)
        finalists.append(entry)
    panels = []
    for name, members, entries in (("两项组", judges[:3], finalists[:2]),
                                   ("四项组", judges[3:6], finalists[2:])):
        panel = create_panel(contest["call"], "city_final", name, members[0], members, city)
        assign_panel(panel, entries, city)
        for sheet in db.session.scalars(select(ReviewAssignment).where(
                ReviewAssignment.round == "city_final",
                ReviewAssignment.conflict_checked_at.is_(None))):
            confirmed(sheet)
        for entry_id in draw_order(panel, members[0]):  # each opened and scored in turn
            open_entry(panel, db.session.get(Application, entry_id), members[0])
            for judge in members:
                sheet = db.session.scalar(select(ReviewAssignment).filter_by(
                    application_id=entry_id, expert_id=judge.id, round="city_final"))
                save_review(sheet, judge, FINAL, "", submit=True)
        panels.append(panel.id)
    db.session.commit()

    counts = {}
    for panel_id, chair in zip(panels, ("judge1", "judge4"), strict=True):
        page = browser(chair)
        token = issue_token(db.session.scalar(select(User).filter_by(username=chair)))
        db.session.commit()
        api = {"Authorization": f"Bearer {token}"}
        for url, headers in ((f"/reviews/panels/{panel_id}", {}),
                             (f"/reviews/panels/{panel_id}/state", {}),
                             (f"/api/v1/panels/{panel_id}/live", api)):
            assert page.client.get(url, headers=headers).status_code == 200  # warm: caches
            with recorded(db.engine) as statements:
                page.client.get(url, headers=headers)
            counts.setdefault(url.split(str(panel_id))[-1] or "board", []).append(
                len(statements))
    board = browser("judge4").get(f"/reviews/panels/{panels[1]}")
    assert board.text.count('final-awarded">80.00<') == 4  # every entry's result is shown

    # board: user; the panel; its members (+ experts); the call (+ quotas); the sheets of the
    # panel's entries; the entries (+ calls' quotas); the round's submitted sheets (for the
    # results); my sheet on the open entry; which entries I see blind; checksum; unread messages
    # state (what screens poll): the same up to the submitted sheets
    # API: token (+ user); the board's (as the state); which entries I see blind; checksum
    assert counts == {"board": [13, 13], "/state": [9, 9], "/live": [12, 12]}
