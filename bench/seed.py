"""Build a realistic dataset for the benchmarks: calls, entries, score sheets, certificates, audit.

Usage:
    .venv/bin/python bench/seed.py --entries 10000 --folder /tmp/pingshen-10k
    .venv/bin/python bench/seed.py --entries 1000 --folder /tmp/pingshen-1k \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench   # schema dropped

The database gets its schema from the migrations (as in production), then:
- a city, 10 districts with a street each, one unit and one applicant per two entries, a district
  administrator per district, a city administrator and 300 experts (all with the password
  ``bench-password``: logins ``city``, ``d1_admin``…, ``expert001``…, ``u00001``…);
- 10 calls over three programmes (excellent_team, teacher_contest, model_centre) and four years:
  the current province-wide team call holds 45 % of the entries, spread over every state from
  draft to city review; a team call is in public notice; two past team calls are finished
  (named, with certificates, or not selected); contests and model centres in their review
  rounds;
- for every (call, state) one template entry walked there through the engine by the people who
  would do it (services and ``fire``: forms, attachments, district recommendation, expert
  sheets, certificate), then cloned in bulk with its own applicant, unit, district, names, its
  own attachment files, its own audit rows (each move by the clone's applicant or district
  administrator) and, in review states, its own submitted sheets with scores drawn per
  criterion from the rubric (fixed random seed);
- about 5 submitted sheets per entry (50,000 at 10,000 entries), 2,000 certificates at 10,000
  entries (200 at 1,000) with gap-free serials and codes, and accepted invitations for every
  expert with sheets in a call.

Certificate rows are cloned; their PDF files are not drawn (the template's is), since no
benchmarked page reads them: downloading one draws it on demand.
Prints one JSON line: the counts of every main table and the seconds taken.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("JOB_QUEUE_URL", "immediate")

from flask import Flask  # noqa: E402
from sqlalchemy import func, insert, select, text, update  # noqa: E402

from app import create_app  # noqa: E402
from app.engine.runtime import fire  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import (  # noqa: E402
    Application,
    Attachment,
    AuditEntry,
    Call,
    CallInvitation,
    Certificate,
    Organisation,
    ReviewAssignment,
    SerialCounter,
    User,
)
from app.models.base import utcnow  # noqa: E402
from app.services.accounts import add_organisation, add_user  # noqa: E402
from app.services.applications import create_application  # noqa: E402
from app.services.attachments import attachment_path, store_attachment  # noqa: E402
from app.services.calls import open_call  # noqa: E402
from app.services.demo import CENTRE, SAMPLE_PDF, contest_data, team_data  # noqa: E402
from app.services.programmes import current_programme  # noqa: E402
from app.services.reviews import assign_expert, declare_conflict, save_review  # noqa: E402

PASSWORD = "bench-password"
SEED = 42
DISTRICTS = 10
EXPERTS = 300
SHEETS_PER_ENTRY = 5
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅兰玉凤春晓文"
TEAMS = ["太极拳队", "书画社", "合唱团", "舞蹈队", "志愿讲师团", "读书会", "摄影社", "锡剧社",
         "茶艺社", "手工坊", "智慧助老学习小组", "家庭教育指导团"]
COURSES = ["太极拳入门", "锡剧唱腔欣赏", "手机摄影基础", "社区茶艺", "智能手机应用", "书法入门",
           "家庭急救常识", "运河文化讲堂", "营养与健康", "剪纸艺术"]


@dataclass(frozen=True)
class Step:
    """One move of a template entry: the trigger, who fires it, and what it carries."""

    trigger: str
    role: str  # applicant, district or city
    comment: str = ""
    data: dict[str, Any] | None = None


RECOMMEND = Step("recommend", "district", data={"rank": 1, "opinion": "推荐。"})
SUBMIT = Step("submit", "applicant")
# The path from a new draft to each state, per programme. A "sheets:<round>" step has the
# experts score the entry in that review round before the next move.
PATHS: dict[str, dict[str, list[Step | str]]] = {
    "excellent_team": {
        "draft": [],
        "district_review": [SUBMIT],
        "returned": [SUBMIT, Step("return_for_correction", "district", "请补充活动记录。")],
        "not_recommended": [SUBMIT, Step("not_recommend", "district", "名额已满。")],
        "city_review": [SUBMIT, RECOMMEND, "sheets:city_review"],
        "notice": [SUBMIT, RECOMMEND, "sheets:city_review", Step("publish_notice", "city")],
        "named": [SUBMIT, RECOMMEND, "sheets:city_review", Step("publish_notice", "city"),
                  Step("name_team", "city")],
        "not_selected": [SUBMIT, RECOMMEND, "sheets:city_review",
                         Step("decline", "city", "综合得分未进入入选范围。")],
    },
    "teacher_contest": {
        "draft": [],
        "district_review": [SUBMIT],
        "eligibility": [SUBMIT, RECOMMEND],
        "city_preliminary": [SUBMIT, RECOMMEND, Step("qualify", "city"),
                             "sheets:city_preliminary"],
        "eliminated": [SUBMIT, RECOMMEND, Step("qualify", "city"), "sheets:city_preliminary",
                       Step("eliminate", "city")],
    },
    "model_centre": {
        "draft": [],
        "district_review": [SUBMIT],
        "eligibility": [SUBMIT, RECOMMEND],
        "materials_review": [SUBMIT, RECOMMEND, Step("qualify", "city"),
                             "sheets:materials_review"],
    },
}


@dataclass
class Plan:
    """A call to build: its programme, year, share of all entries and states (weights)."""

    programme: str
    year: int
    share: float
    states: dict[str, int]
    title: str = ""
    certificates: bool = False


def plans(year: int) -> list[Plan]:
    """The ten calls: shares add up to 1."""
    return [
        Plan("excellent_team", year, 0.45, {"draft": 4, "district_review": 8, "returned": 2,
                                            "not_recommended": 3, "city_review": 83},
             f"{year}年度全省社区教育优秀团队遴选"),
        Plan("excellent_team", year - 1, 0.08, {"notice": 85, "not_selected": 15},
             f"{year - 1}年度X市社区教育优秀团队遴选"),
        Plan("excellent_team", year - 2, 0.13, {"named": 80, "not_selected": 20},
             f"{year - 2}年度X市社区教育优秀团队遴选", certificates=True),
        Plan("excellent_team", year - 3, 0.13, {"named": 80, "not_selected": 20},
             f"{year - 3}年度X市社区教育优秀团队遴选", certificates=True),
        Plan("teacher_contest", year, 0.08, {"draft": 5, "district_review": 10,
                                             "eligibility": 15, "city_preliminary": 70},
             f"{year}年X市社区教育教师能力大赛"),
        Plan("teacher_contest", year - 1, 0.06, {"city_preliminary": 30, "eliminated": 70},
             f"{year - 1}年X市社区教育教师能力大赛"),
        Plan("teacher_contest", year - 2, 0.03, {"eliminated": 100},
             f"{year - 2}年X市社区教育教师能力大赛"),
        Plan("model_centre", year, 0.03, {"draft": 10, "district_review": 20, "eligibility": 20,
                                          "materials_review": 50},
             f"X市第{year - 2023}批市级示范性社区教育中心建设（{year}）"),
        Plan("model_centre", year - 1, 0.01, {"materials_review": 100},
             f"X市第{year - 2024}批市级示范性社区教育中心建设（{year - 1}）"),
        Plan("model_centre", year - 2, 0.01, {"materials_review": 100},
             f"X市第{year - 2025}批市级示范性社区教育中心建设（{year - 2}）"),
    ]


@dataclass
class People:
    """Who is in the dataset."""

    city: User
    district_admins: dict[int, User]  # by district organisation id
    experts: list[User]
    applicants: list[tuple[int, int, int, str]]  # (user id, unit id, district id, unit name)
    template_applicants: list[User] = field(default_factory=list)


def make_app(url: str, folder: Path) -> Flask:
    """An app on the benchmark database and folders (nothing created yet)."""
    return create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret",
        "UPLOAD_FOLDER": str(folder / "uploads"),
        "CERTIFICATE_FOLDER": str(folder / "certificates"),
        "IMPORT_FOLDER": str(folder / "imports"), "EXPORT_FOLDER": str(folder / "exports"),
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000", "JOB_QUEUE_URL": "immediate",
        "SECURITY_LOG": "",
        # 320 people are made one by one: a cheap hash keeps seeding fast (logins still check it)
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    })


def fresh_instance(folder: Path, database_url: str | None) -> tuple[Flask, str]:
    """An empty FOLDER and an app on a fresh schema (SQLite in FOLDER unless a URL is given;
    a PostgreSQL database's public schema is dropped); the app and its database URL."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    url = database_url or f"sqlite:///{folder / 'pingshen.db'}"
    app = make_app(url, folder)
    fresh_schema(app)
    return app, url


def fresh_schema(app: Flask) -> None:
    """Drop what is there and build the schema from the migrations, then record programmes."""
    from flask_migrate import upgrade

    from app.services.programmes import catalogue, record_version

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
        for programme in catalogue().values():
            record_version(programme)
        db.session.commit()


def seed_people(entries: int, rnd: random.Random) -> People:
    """Organisations and users; units and applicants inserted in bulk."""
    add_organisation("X", "X市", "city", None)
    add_organisation("X-OU", "X市开放大学", "unit", "X")
    city = add_user("city", "city_admin", "X", PASSWORD, "市管理员")
    experts = [add_user(f"expert{n:03d}", "expert", "X-OU", PASSWORD,
                        rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
                        "副教授", ["美育与艺术鉴赏"]) for n in range(1, EXPERTS + 1)]
    admins, streets = {}, {}
    for d in range(1, DISTRICTS + 1):
        district = add_organisation(f"D{d}", f"第{d}区", "district", "X")
        streets[district.id] = add_organisation(f"D{d}-S", f"第{d}区某街道", "street", f"D{d}")
        admins[district.id] = add_user(f"d{d}_admin", "district_admin", f"D{d}", PASSWORD,
                                       f"第{d}区管理员")
    hashed = city.password_hash
    units = max(DISTRICTS * 2, entries // 2)
    district_ids = list(admins)
    org_rows = [{"code": f"U{n:05d}", "name": f"{streets[district_ids[n % DISTRICTS]].name[:-3]}"
                 f"第{n}社区教育中心", "kind": "unit",
                 "parent_id": streets[district_ids[n % DISTRICTS]].id,
                 "district_id": district_ids[n % DISTRICTS]} for n in range(1, units + 1)]
    db.session.execute(insert(Organisation), org_rows)
    unit_ids = dict(db.session.execute(select(Organisation.code, Organisation.id).where(
        Organisation.kind == "unit", Organisation.code.like("U%"))).all())
    db.session.execute(insert(User), [
        {"username": f"u{n:05d}", "name": rnd.choice(SURNAMES) + rnd.choice(GIVEN),
         "role": "applicant", "org_id": unit_ids[f"U{n:05d}"], "password_hash": hashed,
         "email": f"u{n:05d}@example.cn"} for n in range(1, units + 1)])
    users = dict(db.session.execute(select(User.username, User.id).where(
        User.username.like("u%"))).all())
    applicants = [(users[f"u{n:05d}"], unit_ids[f"U{n:05d}"], district_ids[n % DISTRICTS],
                   row["name"]) for n, row in enumerate(org_rows, start=1)]
    db.session.flush()
    return People(city, admins, experts, applicants)


def form_data(programme: str, n: int, unit: str, rnd: random.Random) -> tuple[dict[str, Any], str]:
    """A complete form for entry number n, and its title."""
    person = rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN)
    if programme == "excellent_team":
        name = f"{unit[-12:]}{TEAMS[n % len(TEAMS)]}"
        return team_data(name, unit, person), name
    if programme == "teacher_contest":
        data = contest_data(person, unit, COURSES[n % len(COURSES)])
        return data, person
    data = dict(CENTRE, centre_name=unit, contact=person, director=person)
    return data, unit


ATTACHMENTS = {
    "excellent_team": [("charter", "团队章程.pdf")],
    "teacher_contest": [("lesson_plan", "教案.pdf")],
    "model_centre": [("application_scan", "申报表（盖章）.pdf"),
                     ("three_year_plan", "三年建设规划.pdf"),
                     ("self_assessment", "自评报告.pdf"), ("site_photos", "中心外景.png")],
}


def score_sheet(rubric_leaves: list[dict[str, Any]], rnd: random.Random,
                quality: float) -> tuple[dict[str, float], Decimal]:
    """Points per criterion in half points around the entry's quality; and their total."""
    scores = {}
    for leaf in rubric_leaves:
        top = float(leaf["max"])
        halves = round(top * 2 * min(1.0, max(0.0, quality + rnd.uniform(-0.08, 0.08))))
        scores[leaf["key"]] = halves / 2
    return scores, sum((Decimal(str(v)) for v in scores.values()), Decimal(0))


def walk_template(call: Call, state: str, applicant: User, people: People,
                  rnd: random.Random) -> Application:
    """One entry taken to `state` through the services and the engine."""
    programme = call.programme_key
    data, _title = form_data(programme, 0, applicant.org.name, rnd)
    entry = create_application(call, applicant, data)
    for key, name in ATTACHMENTS[programme]:
        content = SAMPLE_PDF if name.endswith(".pdf") else _png()
        store_attachment(entry, key, name, io.BytesIO(content), applicant)
    actors = {"applicant": applicant, "city": people.city,
              "district": people.district_admins[applicant.org.district_id]}
    definition = current_programme(programme)
    for step in PATHS[programme][state]:
        if isinstance(step, str):
            round_name = step.split(":", 1)[1]
            leaves = definition.rounds[round_name].rubric.leaves
            for expert in people.experts[:SHEETS_PER_ENTRY]:
                sheet = assign_expert(entry, expert, people.city)
                declare_conflict(sheet, expert, conflict=False)
                scores, _total = score_sheet(leaves, rnd, 0.8)
                save_review(sheet, expert, scores, "材料详实，特色鲜明。", submit=True)
            continue
        fire(entry, step.trigger, actors[step.role], comment=step.comment, data=step.data)
    db.session.flush()
    return entry


def _png() -> bytes:
    from app.services.demo import _png as png

    return png()


def row_of(obj: Any, skip: tuple[str, ...] = ("id",)) -> dict[str, Any]:
    """A mapped object's column values by attribute name."""
    mapper = type(obj).__mapper__
    return {attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs
            if attr.key not in skip}


def clone(template: Application, count: int, applicants: list[tuple[int, int, int, str]],
          people: People, rnd: random.Random, experts_per_entry: list[int],
          start_number: int, open_round: bool) -> list[int]:
    """`count` copies of the template entry, each with its own people, names, files, audit rows
    and sheets; returns the new entries' ids. In an `open_round` a quarter of the sheets are
    still being scored: some drafts, some not yet opened."""
    programme = template.call.programme_key
    definition = current_programme(programme)
    base = row_of(template)
    audit = [row_of(a) for a in db.session.scalars(select(AuditEntry).where(
        AuditEntry.application_id == template.id).order_by(AuditEntry.id))]
    files = list(db.session.scalars(select(Attachment).where(
        Attachment.application_id == template.id)))
    contents = {a.id: attachment_path(a).read_bytes() for a in files}
    sheets = [row_of(s) for s in db.session.scalars(select(ReviewAssignment).where(
        ReviewAssignment.application_id == template.id).order_by(ReviewAssignment.id))]
    leaves = {s["round"]: definition.rounds[s["round"]].rubric.leaves for s in sheets}
    template_admin = people.district_admins[template.district_id].id
    rows = []
    for k in range(count):
        user_id, unit_id, district_id, unit_name = applicants[k % len(applicants)]
        data, title = form_data(programme, start_number + k, unit_name, rnd)
        age = timedelta(days=rnd.randint(1, 20), minutes=rnd.randint(0, 1440))
        rows.append(dict(base, applicant_id=user_id, org_id=unit_id, district_id=district_id,
                         data=data, title=title, idempotency_key=None,
                         created_at=base["created_at"] - age,
                         submitted_at=base["submitted_at"] and base["submitted_at"] - age,
                         state_since=base["state_since"] - age / 2,
                         step_data=_renumbered(base["step_data"], k)))
    if not rows:
        return []
    ids = list(db.session.scalars(insert(Application).returning(
        Application.id, sort_by_parameter_order=True), rows))
    audit_rows, attachment_rows, sheet_rows = [], [], []
    for k, entry_id in enumerate(ids):
        user_id, _unit, district_id, _name = applicants[k % len(applicants)]
        admin = people.district_admins[district_id].id
        shift = rows[k]["created_at"] - base["created_at"]
        for a in audit:
            actor = {template.applicant_id: user_id, template_admin: admin}.get(
                a["actor_id"], a["actor_id"])
            audit_rows.append(dict(a, application_id=entry_id, actor_id=actor,
                                   at=a["at"] + shift))
        for f in files:
            stored = secrets.token_hex(16)
            target = Path(attachment_path(f)).parent.parent / stored[:2] / stored
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(contents[f.id])
            attachment_rows.append(dict(row_of(f), application_id=entry_id, stored_name=stored,
                                        uploaded_by_id=user_id, uploaded_at=f.uploaded_at + shift))
        if sheets:
            quality = rnd.uniform(0.55, 0.95)
            chosen = rnd.sample(people.experts, experts_per_entry[k])
            for n, expert in enumerate(chosen):
                sheet = dict(sheets[n % len(sheets)])
                scores, total = score_sheet(leaves[sheet["round"]], rnd, quality)
                row = dict(sheet, application_id=entry_id, expert_id=expert.id,
                           scores=scores, total=total, assigned_at=sheet["assigned_at"] + shift,
                           conflict_checked_at=sheet["conflict_checked_at"] + shift,
                           submitted_at=sheet["submitted_at"] + shift + timedelta(minutes=n))
                progress = rnd.random() if open_round else 1.0
                if progress < 0.10:
                    row.update(status="assigned", scores={}, total=None, comment="",
                               conflict_checked_at=None, submitted_at=None)
                elif progress < 0.25:
                    first = dict(list(scores.items())[:2])
                    row.update(status="draft", scores=first, total=None, comment="",
                               submitted_at=None)
                sheet_rows.append(row)
    for table, batch in ((AuditEntry, audit_rows), (Attachment, attachment_rows),
                         (ReviewAssignment, sheet_rows)):
        for start in range(0, len(batch), 5000):
            db.session.execute(insert(table), batch[start:start + 5000])
    return ids


def _renumbered(step_data: dict[str, Any], k: int) -> dict[str, Any]:
    """The district's rank differs between entries of one district."""
    if "recommend" in step_data or any(isinstance(v, dict) and "rank" in v
                                       for v in step_data.values()):
        return {key: dict(value, rank=k // DISTRICTS + 1) if isinstance(value, dict)
                and "rank" in value else value for key, value in step_data.items()}
    return step_data


def clone_certificates(template: Application, ids: list[int], limit: int) -> int:
    """Certificates for up to `limit` of the cloned entries, serials continuing the template's."""
    cert = db.session.scalar(select(Certificate).where(
        Certificate.application_id == template.id))
    if cert is None or limit <= 0:
        return 0
    base = row_of(cert)
    counter = db.session.scalar(select(SerialCounter).where(
        SerialCounter.programme_key == template.call.programme_key,
        SerialCounter.year == template.call.year))
    assert counter is not None
    prefix = cert.serial.rsplit("-", 1)[0]
    chosen = ids[:limit]
    entries = dict(db.session.execute(select(Application.id, Application.title).where(
        Application.id.in_(chosen))).all())
    rows = [dict(base, application_id=entry_id, serial=f"{prefix}-{counter.last + n + 1:04d}",
                 code=secrets.token_urlsafe(20), holder=entries[entry_id])
            for n, entry_id in enumerate(chosen)]
    db.session.execute(insert(Certificate), rows)
    counter.last += len(rows)
    return len(rows)


def split(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Whole numbers per state in proportion to the weights, adding up to total."""
    whole = sum(weights.values())
    counts = {state: total * w // whole for state, w in weights.items()}
    first = next(iter(weights))
    counts[first] += total - sum(counts.values())
    return counts


OPEN_ROUNDS = {"city_review", "city_preliminary", "materials_review"}
REVIEWED = {"city_review", "notice", "named", "not_selected", "city_preliminary", "eliminated",
            "materials_review"}


def single_call(year: int) -> list[Plan]:
    """One province-wide team call, every entry in city review with its sheets submitted (the
    bulk transition and ranking benchmarks)."""
    return [Plan("excellent_team", year, 1.0, {"city_review": 1},
                 f"{year}年度全省社区教育优秀团队遴选")]


def seed(entries: int, certificates: int | None = None, *, one_call: bool = False
         ) -> dict[str, Any]:
    """Build the whole dataset in the current app context; commit; return the counts."""
    rnd = random.Random(SEED)
    now = utcnow()
    year = now.year
    people = seed_people(entries, rnd)
    calls: list[tuple[Plan, Call, dict[str, int]]] = []
    for plan in single_call(year) if one_call else plans(year):
        quotas = {f"D{d}": entries for d in range(1, DISTRICTS + 1)}
        call = open_call(plan.programme, plan.title, plan.year, now - timedelta(days=60),
                         now + timedelta(days=30), quotas, people.city, "基准测试数据。")
        calls.append((plan, call, split(round(entries * plan.share), plan.states)))
    planned = sum(sum(c.values()) for _p, _c, c in calls)
    first_plan = calls[0][2]
    first_plan[next(iter(first_plan))] += entries - planned
    reviewed = sum(n for _p, _c, counts in calls for s, n in counts.items() if s in REVIEWED)
    sheets_total = SHEETS_PER_ENTRY * entries
    certificate_budget = certificates if certificates is not None else entries // 5
    shuffled = list(people.applicants)
    serial = 0
    for plan, call, counts in calls:
        rnd.shuffle(shuffled)
        used = 0
        for state, count in counts.items():
            if count == 0:
                continue
            serial += 1
            applicant = _template_applicant(serial, people)
            template = walk_template(call, state, applicant, people, rnd)
            per_entry = []
            if state in REVIEWED:
                share = sheets_total * (count - 1) // max(1, reviewed)
                per_entry = [share // max(1, count - 1) + (1 if k < share % max(1, count - 1)
                                                          else 0) for k in range(count - 1)]
            ids = clone(template, count - 1, shuffled[used:] + shuffled[:used], people, rnd,
                        per_entry, used, open_round=not one_call and plan.year == year
                        and state in OPEN_ROUNDS)
            used += count - 1
            if plan.certificates and state == "named":
                take = min(certificate_budget, len(ids))
                certificate_budget -= clone_certificates(template, ids, take)
        _invite(call, people)
    _date_calls(calls, now)
    db.session.commit()
    return counts_of()


def _template_applicant(n: int, people: People) -> User:
    """A fresh applicant for one template entry (one entry per applicant and call holds)."""
    add_organisation(f"T{n:03d}", f"第1区样例社区教育中心{n}", "unit", "D1-S")
    user = add_user(f"t{n:03d}", "applicant", f"T{n:03d}", PASSWORD, "样例申报人")
    people.template_applicants.append(user)
    return user


def _invite(call: Call, people: People) -> None:
    """Accepted invitations for every expert with a sheet in the call."""
    experts = set(db.session.scalars(select(ReviewAssignment.expert_id).join(
        Application).where(Application.call_id == call.id).distinct()))
    if experts:
        db.session.execute(insert(CallInvitation), [
            {"call_id": call.id, "expert_id": e, "status": "accepted",
             "invited_by_id": people.city.id, "answered_at": utcnow()} for e in sorted(experts)])


def _date_calls(calls: list[tuple[Plan, Call, dict[str, int]]], now: datetime) -> None:
    """Past years' calls closed long ago; this year's stay open."""
    for plan, call, _counts in calls:
        if plan.year < now.year:
            back = timedelta(days=365 * (now.year - plan.year))
            db.session.execute(update(Call).where(Call.id == call.id).values(
                opens_at=now - back - timedelta(days=60), closes_at=now - back))


def counts_of() -> dict[str, Any]:
    """Rows per table and entries per state."""
    count = {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
             for model in (Application, AuditEntry, Attachment, ReviewAssignment, Certificate,
                           User, Organisation, Call, CallInvitation)}
    states = Counter(dict(db.session.execute(select(Application.state, func.count()).group_by(
        Application.state)).all()))
    return {"tables": count, "states": dict(sorted(states.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--certificates", type=int, default=None,
                        help="certificates to issue (default: one per five entries)")
    parser.add_argument("--one-call", action="store_true",
                        help="a single call with every entry in city review, sheets submitted")
    parser.add_argument("--folder", type=Path, required=True,
                        help="uploads, certificates and (by default) the SQLite file go here")
    parser.add_argument("--database-url", default=None,
                        help="default: sqlite:///FOLDER/pingshen.db; PostgreSQL: schema dropped")
    args = parser.parse_args()
    start = time.perf_counter()
    app, url = fresh_instance(args.folder, args.database_url)
    with app.app_context():
        result = seed(args.entries, args.certificates, one_call=args.one_call)
    result.update(entries=args.entries, database=url.split(":")[0],
                  seconds=round(time.perf_counter() - start, 1))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
