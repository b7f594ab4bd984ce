"""Demonstration data: a city with three districts, one account per role, a call in progress."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

from app.engine.runtime import fire
from app.models import Application, User
from app.models.base import utcnow
from app.services.accounts import add_organisation, add_user
from app.services.applications import create_application, update_data
from app.services.attachments import store_attachment
from app.services.calls import open_call
from app.services.panels import assign_panel, create_panel
from app.services.reviews import assign_expert, declare_conflict, save_review
from app.services.rounds import close_round

DEMO_PASSWORD = "pingshen-demo"
# A one-page PDF, small enough to keep inline, standing in for a scanned charter.
SAMPLE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
ORGS = [
    ("X", "X市", "city", None),
    ("X-OU", "X市开放大学", "unit", "X"),
    ("TN", "天宁区", "district", "X"),
    ("TN-QG", "青龙街道", "street", "TN"),
    ("TN-QG-C", "青龙街道社区教育中心", "unit", "TN-QG"),
    ("WJ", "武进区", "district", "X"),
    ("WJ-HT", "湖塘镇", "street", "WJ"),
    ("WJ-HT-C", "湖塘镇社区教育中心", "unit", "WJ-HT"),
    ("WJ-NT", "牛塘镇", "street", "WJ"),
    ("WJ-NT-C", "牛塘镇社区教育中心", "unit", "WJ-NT"),
    ("XB", "新北区", "district", "X"),
    ("XB-SQ", "三井街道", "street", "XB"),
    ("XB-SQ-C", "三井街道社区教育中心", "unit", "XB-SQ"),
]
USERS = [
    ("city", "city_admin", "X", "陈主任"),
    ("wj_admin", "district_admin", "WJ", "武进区管理员"),
    ("tn_admin", "district_admin", "TN", "天宁区管理员"),
    ("xb_admin", "district_admin", "XB", "新北区管理员"),
    ("hutang", "applicant", "WJ-HT-C", "孙丽"),
    ("niutang", "applicant", "WJ-NT-C", "钱伟"),
    ("qinglong", "applicant", "TN-QG-C", "周敏"),
    ("sanjing", "applicant", "XB-SQ-C", "吴静"),
    ("expert1", "expert", "X-OU", "王教授"),
    ("expert2", "expert", "X-OU", "李老师"),
    ("expert3", "expert", "X-OU", "赵老师"),
    ("expert4", "expert", "X-OU", "钱老师"),
    ("expert5", "expert", "X-OU", "孙老师"),
]


EXPERT_PROFILES = {
    "expert1": ("教授", ["美育与艺术鉴赏", "地方特色与文化"]),
    "expert2": ("副教授", ["体育与健康养生", "德育与公民素质"]),
    "expert3": ("高级讲师", ["智育与职业技能", "美育与艺术鉴赏"]),
    "expert4": ("副教授", ["地方特色与文化"]),
    "expert5": ("讲师", ["体育与健康养生"]),
}


def team_data(name: str, centre: str, leader: str) -> dict[str, Any]:
    """A complete application form for a demo team."""
    return {
        "team_name": name, "centre": centre, "founded_on": "2021-03-15", "member_count": 12,
        "field": "美育与艺术鉴赏", "weekly_hours": 6, "leader": leader, "phone": "13912345678",
        "email": "team@example.cn",
        "members": [{"name": leader, "gender": "女", "age": 58, "duty": "队长"},
                    {"name": "陈明", "gender": "男", "age": 63, "duty": "副队长"}],
        "activities": ["集中学习", "社区展演"],
        "introduction": f"{name}成立于2021年，每周开展两次集中学习与排练，坚持送教进社区。",
        "achievements": "近三年在社区展演 40 余场，带动 300 余名居民参与学习。",
        "honest": True,
    }


def contest_data(teacher: str, unit: str, course: str,
                 category: str = "技能课程说课展示") -> dict[str, Any]:
    """A complete entry form for the teacher contest."""
    return {
        "teacher_name": teacher, "gender": "女", "birth_month": "1985-06-01",
        "work_unit": unit, "teacher_type": "兼职教师", "professional_title": "一级教师",
        "mobile": "13812345678", "category": category, "field": "美育与艺术鉴赏",
        "course_title": course, "audience": "社区中老年居民",
        "summary": f"《{course}》面向社区居民，分六次课完成，注重示范与练习。",
        "consent": True,
    }


def load_demo() -> list[tuple[str, str]]:
    """Create the demo organisations, users, call and applications; return the logins."""
    for code, name, kind, parent in ORGS:
        add_organisation(code, name, kind, parent)
    # Every demo user has an address at the reserved example domain: without SMTP configured,
    # their e-mails wait in the outbox (/admin/outbox), where the city can read them.
    users = {username: add_user(username, role, org, DEMO_PASSWORD, name,
                                *EXPERT_PROFILES.get(username, ("", [])),
                                email=f"{username}@example.cn")
             for username, role, org, name in USERS}
    now = utcnow()
    call = open_call("excellent_team", f"{now.year}年度X市社区教育优秀团队遴选", now.year,
                     now - timedelta(days=10), now + timedelta(days=30),
                     {"TN": 2, "WJ": 2, "XB": 2}, users["city"],
                     "各区推荐名额 2 个。团队须成立满一年、成员不少于 5 人，并上传团队章程。")

    def entry(user: str, name: str, leader: str) -> Application:
        applicant = users[user]
        app = create_application(call, applicant, team_data(name, applicant.org.name, leader))
        store_attachment(app, "charter", "团队章程.pdf", io.BytesIO(SAMPLE_PDF), applicant)
        return app

    draft = create_application(call, users["niutang"], {"team_name": "牛塘舞蹈队"})
    submitted = entry("qinglong", "青龙书画社", "周红")
    fire(submitted, "submit", users["qinglong"])
    returned = entry("sanjing", "三井合唱团", "吴芳")
    fire(returned, "submit", users["sanjing"])
    fire(returned, "return_for_correction", users["xb_admin"],
         comment="请补充团队近一年的活动记录和照片。")
    reviewing = entry("hutang", "湖塘太极拳队", "张建国")
    fire(reviewing, "submit", users["hutang"])
    fire(reviewing, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐。"})
    named = entry("niutang", "牛塘锡剧团", "刘美华")
    fire(named, "submit", users["niutang"])
    fire(named, "recommend", users["wj_admin"], data={"rank": 2, "opinion": "同意推荐。"})
    for number, expert in enumerate(("expert1", "expert2", "expert3")):
        assign_expert(reviewing, users[expert], users["city"])
        sheet = assign_expert(named, users[expert], users["city"])
        declare_conflict(sheet, users[expert], conflict=False)
        scores = {"organisation": 18, "resources": 13, "activities": 31 - number, "impact": 27}
        save_review(sheet, users[expert], scores, "团队活动扎实，成效明显。", submit=True)
    declare_conflict(_sheet(reviewing, users["expert1"]), users["expert1"], conflict=False)
    save_review(_sheet(reviewing, users["expert1"]), users["expert1"],
                {"organisation": 17, "resources": 12}, "", submit=False)
    fire(named, "publish_notice", users["city"])
    fire(named, "name_team", users["city"])
    noticed = entry("qinglong", "青龙街道志愿讲师团", "郑立新")  # in public notice (公示)
    fire(noticed, "submit", users["qinglong"])
    fire(noticed, "recommend", users["tn_admin"], data={"rank": 1, "opinion": "推荐。"})
    for expert in ("expert1", "expert2"):
        sheet = assign_expert(noticed, users[expert], users["city"])
        declare_conflict(sheet, users[expert], conflict=False)
        save_review(sheet, users[expert], {"organisation": 17, "resources": 13,
                                           "activities": 30, "impact": 26},
                    "讲师团坚持送教进社区，效果良好。", submit=True)
    fire(noticed, "publish_notice", users["city"])
    _ = draft
    _load_contest(users)
    _load_model_centre(users)
    return [(username, role) for username, role, _org, _name in USERS]


def _load_contest(users: dict[str, User]) -> None:
    """A teacher contest past its blind preliminary round, its live final ready to start."""
    now = utcnow()
    call = open_call("teacher_contest", f"{now.year}年X市社区教育教师能力大赛", now.year,
                     now - timedelta(days=20), now + timedelta(days=10),
                     {"TN": 2, "WJ": 3, "XB": 2}, users["city"],
                     "初赛网络匿名评审（30%），决赛现场说课（70%）。")
    courses = [("hutang", "孙丽", "太极拳入门", 84), ("niutang", "钱伟", "锡剧唱腔欣赏", 88),
               ("qinglong", "周敏", "手机摄影基础", 79), ("sanjing", "吴静", "社区茶艺", 71)]
    entries = []
    for username, teacher, course, points in courses:
        user = users[username]
        admin = users[f"{user.org.code.split('-')[0].lower()}_admin"]
        entry = create_application(call, user, contest_data(teacher, user.org.name, course))
        store_attachment(entry, "lesson_plan", f"{teacher}-{course}-教案.pdf",
                         io.BytesIO(SAMPLE_PDF), user)
        fire(entry, "submit", user)
        fire(entry, "recommend", admin, data={"rank": 1, "opinion": "推荐参赛。"})
        fire(entry, "qualify", users["city"])
        for n, expert in enumerate(("expert1", "expert2", "expert3")):
            sheet = assign_expert(entry, users[expert], users["city"])
            declare_conflict(sheet, users[expert], conflict=False)
            scores = {"design": points - 52 + n, "materials": 26 - n, "presentation": 26}
            save_review(sheet, users[expert], scores, "教学设计完整。", submit=True)
        entries.append(entry)
    close_round(call, "city_preliminary", users["city"])
    for entry in entries[:3]:
        fire(entry, "advance", users["city"])
    fire(entries[3], "eliminate", users["city"])
    judges = [users[f"expert{n}"] for n in range(1, 6)]
    panel = create_panel(call, "city_final", "决赛评委组", judges[0], judges, users["city"])
    for sheet in assign_panel(panel, entries[:3], users["city"]).made:
        declare_conflict(sheet, sheet.expert, conflict=False)


CENTRE = {
    "centre_name": "湖塘镇社区教育中心", "district_name": "武进区", "town": "湖塘镇",
    "address": "湖塘镇人民中路 88 号", "director": "孙丽", "director_post": "中心主任",
    "contact": "孙丽", "phone": "13912345678", "email": "hutang@example.cn",
    "population": 35.6, "community_count": 28, "village_count": 12, "building_area": 4200,
    "function_rooms": ["多媒体教室", "数字化学习室（电脑房）", "书画室", "智慧助老体验室"],
    "function_room_count": 14, "annual_budget": 186.5, "budget_per_capita": 5.2,
    "full_time_staff": 6, "part_time_teachers": 48, "volunteers": 260,
    "training_count": 68000, "participation_rate": 38.5, "elderly_rate": 52.0,
    "resident_schools": 40, "learning_teams": 65,
    "featured_projects": "“湖塘乐龄学堂”智慧助老项目三年来开设智能手机、网上办事等课程 120 余期，"
                         "培训老年居民 1.2 万人次；“运河记忆”地方文化课程进入全镇 40 所居民学校。",
    "goals": "三年内建成覆盖全镇、线上线下融合的社区教育服务体系，居民参与率达到 45%，"
             "形成两个在全市有影响的社区教育品牌项目。",
    "measures": "一是完善镇、村（社区）两级办学网络，居民学校标准化建设全覆盖；"
                "二是建设数字化学习室和线上课程平台，每年新开发特色课程 10 门；"
                "三是培育学习团队 80 支，组建志愿讲师队伍；"
                "四是深化智慧助老和家庭教育指导两大品牌，每年开展培训 7 万人次以上。",
    "self_score": 88.5, "town_opinion": "情况属实，同意申报。", "honest": True,
}


def _load_model_centre(users: dict[str, User]) -> None:
    """A model-centre call whose entry has been approved and now writes its first-year report
    (a stage section): the construction-type programmes after selection."""
    from app.services.programmes import current_programme

    now = utcnow()
    call = open_call("model_centre", f"X市第三批市级示范性社区教育中心建设（{now.year}）", now.year,
                     now - timedelta(days=5), now + timedelta(days=25),
                     {"TN": 1, "WJ": 2, "XB": 1}, users["city"],
                     "建设期两年，每年提交年度跟踪报告，期满考核验收。")
    hutang = users["hutang"]
    entry = create_application(call, hutang, CENTRE)
    for field, name in (("application_scan", "申报表（盖章）.pdf"), ("three_year_plan",
                        "三年建设规划.pdf"), ("self_assessment", "自评报告.pdf")):
        store_attachment(entry, field, name, io.BytesIO(SAMPLE_PDF), hutang)
    store_attachment(entry, "site_photos", "中心外景.png", io.BytesIO(_png()), hutang)
    fire(entry, "submit", hutang)
    fire(entry, "recommend", users["wj_admin"], data={"rank": 1, "opinion": "推荐。"})
    fire(entry, "qualify", users["city"])
    programme = current_programme("model_centre")
    for state, trigger, judges in (("materials_review", "advance", 3),
                                   ("defence_review", "propose_approval", 5)):
        leaves = programme.rounds[state].rubric.leaves
        for n in range(1, judges + 1):
            expert = users[f"expert{n}"]
            sheet = assign_expert(entry, expert, users["city"])
            declare_conflict(sheet, expert, conflict=False)
            points = {leaf["key"]: round(float(leaf["max"]) * (0.9 - n / 50) * 2) / 2
                      for leaf in leaves}
            save_review(sheet, expert, points, "建设基础扎实，规划可行。", submit=True)
        fire(entry, trigger, users["city"])
    fire(entry, "approve", users["city"], comment="公示期满无异议。")
    update_data(entry, hutang, {"y1_training_count": 72000})  # the report, begun as a draft


def _png() -> bytes:
    """A small PNG picture (a pale blue square) for the demo's photos."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\xc8\xdc\xf0" * 16 for _ in range(16))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _sheet(application: Application, expert: User) -> Any:
    """The assignment of an expert on an entry."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import ReviewAssignment

    return db.session.scalar(select(ReviewAssignment).filter_by(
        application_id=application.id, expert_id=expert.id))
