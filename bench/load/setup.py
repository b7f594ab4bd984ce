"""Prepare a fresh instance for the load test: the demo, plus a call and people for 50 users.

Usage: .venv/bin/python bench/load/setup.py OUT.json   (after `flask db upgrade`,
`flask workflows sync` and `flask demo load`, with the same PINGSHEN_INSTANCE / DATABASE_URL)

Adds, through the services as the web and CLI do: one open excellent_team call with room in
every district's quota, a unit per district with its applicants (who start with no entries: every
entry they own at the end was created under load), district and city administrators, experts,
and seeded entries owned by a separate seed account per district — waiting for the district,
in city review with three experts assigned, in public notice, and named with a certificate.
Writes the ids and logins the load users need to OUT.json.
"""

from __future__ import annotations

import io
import json
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.engine.runtime import fire  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Application, User  # noqa: E402
from app.models.base import utcnow  # noqa: E402
from app.services.accounts import add_organisation, add_user  # noqa: E402
from app.services.applications import create_application  # noqa: E402
from app.services.attachments import store_attachment  # noqa: E402
from app.services.calls import open_call  # noqa: E402
from app.services.certificates import issue_certificate  # noqa: E402
from app.services.demo import DEMO_PASSWORD, SAMPLE_PDF, team_data  # noqa: E402
from app.services.programmes import programme_of  # noqa: E402
from app.services.reviews import assign_expert, declare_conflict, save_review  # noqa: E402

DISTRICTS = {"WJ": "武进区", "TN": "天宁区", "XB": "新北区"}
APPLICANTS_PER_DISTRICT = 8
ADMINS_PER_DISTRICT = 2
EXPERTS = 10
CITY_ADMINS = 2
SEEDED = {"district_review": 10, "city_review": 20, "notice": 4, "named": 2}  # per district
SCORES = {"organisation": 17, "resources": 12, "activities": 30, "impact": 26}


def main(out: Path) -> None:
    """Create the load call, accounts and seeded entries; write what the load users need."""
    app = create_app()
    with app.app_context():
        plan = prepare()
        db.session.commit()
    out.write_text(json.dumps(plan, ensure_ascii=False, indent=1))
    print(f"load setup: {len(plan['applicants'])} applicants, {len(plan['district_admins'])} "
          f"district admins, {len(plan['experts'])} experts, {len(plan['city_admins'])} city "
          f"admins; {plan['seeded']} seeded entries -> {out}")


def prepare() -> dict:
    """Everything the load test starts from, as plain ids and names."""
    city = db.session.scalar(db.select(User).filter_by(username="city"))
    assert city is not None, "run `flask demo load` first"
    users: dict[str, list[User]] = {"applicant": [], "district_admin": [], "expert": [],
                                    "city_admin": [], "seed": []}
    for code, name in DISTRICTS.items():
        add_organisation(f"{code}-LD", f"{name}压测街道", "street", code)
        add_organisation(f"{code}-LD-C", f"{name}压测社区教育中心", "unit", f"{code}-LD")
        for n in range(1, APPLICANTS_PER_DISTRICT + 1):
            users["applicant"].append(_user(f"ld_{code.lower()}_app{n}", "applicant",
                                            f"{code}-LD-C"))
        for n in range(1, ADMINS_PER_DISTRICT + 1):
            users["district_admin"].append(_user(f"ld_{code.lower()}_admin{n}",
                                                 "district_admin", code))
        users["seed"].append(_user(f"ld_{code.lower()}_seed", "applicant", f"{code}-LD-C"))
    users["expert"] = [_user(f"ld_expert{n}", "expert", "X-OU", expertise=["美育与艺术鉴赏"])
                       for n in range(1, EXPERTS + 1)]
    users["city_admin"] = [_user(f"ld_city{n}", "city_admin", "X")
                           for n in range(1, CITY_ADMINS + 1)]
    now = utcnow()
    call = open_call("excellent_team", f"{now.year}年度优秀团队遴选（压力测试）", now.year,
                     now - timedelta(days=3), now + timedelta(days=30),
                     dict.fromkeys(DISTRICTS, 100000), city, "压力测试批次。")
    seeded = [_seed(call, seed, state, n, users["expert"], city)
              for seed in users["seed"] for state, count in SEEDED.items()
              for n in range(count)]
    codes = [c.code for a in seeded if a.state == "named" for c in _certificates(a)]
    return {
        "call_id": call.id, "password": DEMO_PASSWORD,
        "applicants": [u.username for u in users["applicant"]],
        "district_admins": [u.username for u in users["district_admin"]],
        "experts": [u.username for u in users["expert"]],
        "city_admins": [u.username for u in users["city_admin"]],
        "seed_accounts": [u.username for u in users["seed"]],
        "certificate_codes": codes, "seeded": len(seeded),
        "team": team_data("压测团队", "压测社区教育中心", "张三"),
        "scores": SCORES, "sample_pdf": SAMPLE_PDF.decode("latin-1"),
    }


def _user(username: str, role: str, org: str, expertise: list[str] | None = None) -> User:
    """An account with the demo password."""
    return add_user(username, role, org, DEMO_PASSWORD, username, "", expertise or [],
                    email=f"{username}@example.cn")


def _seed(call, seed: User, state: str, n: int, experts: list[User], city: User) -> Application:
    """One entry of the seed account moved to `state` (experts assigned in city review)."""
    entry = create_application(call, seed, team_data(f"种子团队{seed.org.district.code}{state}{n}",
                                                     seed.org.name, "李四"))
    store_attachment(entry, "charter", "团队章程.pdf", io.BytesIO(SAMPLE_PDF), seed)
    fire(entry, "submit", seed)
    if state == "district_review":
        return entry
    admin = db.session.scalar(db.select(User).filter_by(
        username=f"ld_{seed.org.district.code.lower()}_admin1"))
    fire(entry, "recommend", admin, data={"rank": 1, "opinion": "推荐。"})
    start = (entry.id * 3) % len(experts)
    for k in range(3):
        expert = experts[(start + k) % len(experts)]
        sheet = assign_expert(entry, expert, city)
        # Half the entries in city review wait for their last sheet only, so that an expert's
        # submission under load lets the city publish them.
        if state != "city_review" or (n % 2 == 0 and k < 2):
            declare_conflict(sheet, expert, conflict=False)
            save_review(sheet, expert, SCORES, "种子评语。", submit=True)
    if state in ("notice", "named"):
        fire(entry, "publish_notice", city)
    if state == "named":
        fire(entry, "name_team", city)
        issue_certificate(entry, programme_of(entry), utcnow())
    return entry


def _certificates(application: Application) -> list:
    """The application's certificates."""
    from app.models import Certificate

    return list(db.session.scalars(db.select(Certificate).filter_by(
        application_id=application.id)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
