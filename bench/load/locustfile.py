"""Fifty people at work in the browser: applicants, district and city administrators, experts and
the public, each with their own account (from the plan bench/load/setup.py wrote) and think times.

Every write is a form posted with its CSRF token, as the browser does. A write the server
acknowledged (a redirect after the post, 302) is counted per kind in a ledger, with the last value
each object was left with; bench/load/check.py compares the ledger with the database afterwards.
A 409 (someone else acted first) or a 422 is an answer, not a failure, and is not counted.

Run by bench/load/run.py: LOAD_PLAN names the plan, LOAD_LEDGER where the ledger is written.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
import time
from collections import Counter
from typing import Any

from locust import HttpUser, between, events, task

PLAN: dict[str, Any] = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read())
CALL = PLAN["call_id"]
PDF = PLAN["sample_pdf"].encode("latin-1")
TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
VERSION = re.compile(r'name="expected_version"[^>]*value="(\d+)"')
ACCEPTED = (200, 302)


class Ledger:
    """What the server acknowledged: counts per kind and the last value left on each object."""

    def __init__(self) -> None:
        """Start empty; `started` is the wall clock the checker compares timestamps with."""
        self.lock = threading.Lock()
        self.acked: Counter[str] = Counter()
        self.answers: Counter[str] = Counter()  # kind:status of every write, acknowledged or not
        self.server_errors: Counter[str] = Counter()
        self.achievements: dict[int, str] = {}  # application id -> last text saved
        self.sheets: dict[int, dict[str, Any]] = {}  # sheet id -> last scores and status saved
        self.receipts: list[str] = []
        self.started = time.time()

    def answer(self, kind: str, status: int, acknowledged: bool) -> bool:
        """Record a write's answer; return whether it was acknowledged."""
        with self.lock:
            self.answers[f"{kind}:{status}"] += 1
            if acknowledged:
                self.acked[kind] += 1
        return acknowledged

    def dump(self, path: str) -> None:
        """Write the ledger as JSON."""
        with self.lock:
            data = {"started": self.started, "finished": time.time(), "acked": self.acked,
                    "answers": self.answers, "server_errors": self.server_errors,
                    "achievements": self.achievements, "sheets": self.sheets,
                    "receipts": self.receipts}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=1)


LEDGER = Ledger()
ACCOUNTS = {role: itertools.cycle(PLAN[role]) for role in
            ("applicants", "district_admins", "experts", "city_admins")}
ADDRESSES = itertools.count(1)


@events.request.add_listener
def _count_server_errors(name: str, response: Any, exception: Any, **_: Any) -> None:
    """Every 5xx (and every connection that got no answer) is counted by request kind."""
    status = getattr(response, "status_code", 0)
    if status >= 500 or (exception is not None and not status):
        with LEDGER.lock:
            LEDGER.server_errors[f"{name}:{status}"] += 1


@events.quitting.add_listener
def _write_ledger(**_: Any) -> None:
    """Leave the ledger where the checker reads it."""
    LEDGER.dump(os.environ.get("LOAD_LEDGER", "ledger.json"))


class Person(HttpUser):
    """A browser: its own client address (behind the one trusted proxy), a session, CSRF."""

    abstract = True
    wait_time = between(3, 10)
    role = ""

    def on_start(self) -> None:
        """Take an address and, for a role with an account, log in."""
        n = next(ADDRESSES)
        self.client.headers["X-Forwarded-For"] = f"10.77.{n // 250}.{n % 250 + 1}"
        self.client.headers["Accept-Language"] = "zh-CN"
        self.token = ""
        if self.role:
            self.username = next(ACCOUNTS[self.role])
            page = self.page("/login", "login page")
            response = self.client.post("/login", name="login", allow_redirects=False, data={
                "csrf_token": self.token, "username": self.username,
                "password": PLAN["password"]})
            LEDGER.answer("login", response.status_code, response.status_code == 302)
            assert page is not None

    def page(self, url: str, name: str) -> str:
        """GET a page; keep its CSRF token for the next form."""
        with self.client.get(url, name=name, catch_response=True) as response:
            if response.status_code >= 500 or response.status_code == 0:
                response.failure(f"{response.status_code}")
                return ""
            response.success()
        if found := TOKEN.search(response.text):
            self.token = found.group(1)
        return response.text

    def post(self, url: str, name: str, data: dict[str, Any],
             files: dict[str, Any] | None = None) -> Any:
        """POST a form with the CSRF token, without following the redirect; 4xx answers are
        expected under load (someone acted first, a limit reached) and are not failures."""
        with self.client.post(url, name=name, data={"csrf_token": self.token, **data},
                              files=files, allow_redirects=False,
                              catch_response=True) as response:
            if response.status_code >= 500 or response.status_code == 0:
                response.failure(f"{response.status_code}")
            else:
                response.success()
        return response


def _ids(pattern: str, text: str) -> list[int]:
    """The distinct ids a page links to, in page order."""
    return list(dict.fromkeys(int(x) for x in re.findall(pattern, text)))


class Applicant(Person):
    """Starts entries, fills them in over a few saves with a file, submits; corrects returns."""

    fixed_count = 24
    role = "applicants"

    def on_start(self) -> None:
        """Log in; no entry of one's own yet."""
        super().on_start()
        self.drafts: dict[int, int] = {}  # id -> saves so far
        self.submitted: set[int] = set()

    @task(3)
    def home(self) -> None:
        """Look at one's entries; correct one that came back."""
        text = self.page("/my/", "applicant: home")
        editable = set(_ids(r"/applications/(\d+)/edit", text))
        returned = sorted((editable & self.submitted) - set(self.drafts))
        if returned and random.random() < 0.5:
            self.save(returned[0], "resubmit")

    @task(2)
    def begin(self) -> None:
        """Start a new entry in the load call (at most two drafts at a time)."""
        if len(self.drafts) >= 2:
            return self.work()
        self.page("/my/", "applicant: home")
        response = self.post(f"/my/calls/{CALL}/apply", "applicant: create", {})
        found = re.search(r"/applications/(\d+)/edit", response.headers.get("Location", ""))
        if LEDGER.answer("create", response.status_code,
                         response.status_code == 302 and found is not None):
            self.drafts[int(found.group(1))] = 0

    @task(6)
    def work(self) -> None:
        """Save a draft (the first save with the charter) or, after two saves, submit it."""
        if not self.drafts:
            return
        application_id = random.choice(list(self.drafts))
        self.save(application_id, "submit" if self.drafts[application_id] >= 2 else "save")

    @task(1)
    def read(self) -> None:
        """Open one of one's submitted entries."""
        if self.submitted:
            application_id = random.choice(sorted(self.submitted))
            self.page(f"/applications/{application_id}", "applicant: entry")

    def save(self, application_id: int, action: str) -> None:
        """Post the whole form as the browser does: save, submit or resubmit."""
        text = self.page(f"/applications/{application_id}/edit", "applicant: edit page")
        version = VERSION.search(text)
        if version is None:
            return
        saves = self.drafts.get(application_id, 0)
        achievements = f"{self.username} 第 {application_id} 号申报第 {saves + 1} 次保存"
        first = action == "save" and saves == 0
        files = {"charter": ("团队章程.pdf", PDF, "application/pdf")} if first else None
        response = self.post(f"/applications/{application_id}/edit", f"applicant: {action}",
                             {**_form(achievements), "expected_version": version.group(1),
                              "action": "save" if action == "save" else "submit"}, files)
        if not LEDGER.answer(action, response.status_code, response.status_code == 302):
            return
        LEDGER.achievements[application_id] = achievements
        if files:
            LEDGER.answer("upload", response.status_code, True)
        if action == "save":
            self.drafts[application_id] = saves + 1
        else:
            self.drafts.pop(application_id, None)
            self.submitted.add(application_id)


def _form(achievements: str) -> dict[str, Any]:
    """The edit form's fields, filled in from the demo team (achievements marks the save)."""
    team = {**PLAN["team"], "achievements": achievements}
    data: dict[str, Any] = {key: team[key] for key in (
        "team_name", "centre", "founded_on", "member_count", "field", "weekly_hours", "leader",
        "phone", "email", "introduction", "achievements")}
    data.update(honest="y", activities=team["activities"])
    for n, member in enumerate(team["members"]):
        data.update({f"members-{n}-{key}": value for key, value in member.items()})
    return data


class DistrictAdmin(Person):
    """Works through the district's waiting entries: recommends most, returns some."""

    fixed_count = 6
    role = "district_admins"

    @task(2)
    def overview(self) -> None:
        """The call's overview for the district."""
        self.page(f"/district/calls/{CALL}", "district: overview")

    @task(6)
    def decide(self) -> None:
        """Open a waiting entry and recommend it (rank, opinion) or return it with a reason."""
        text = self.page(f"/district/?call={CALL}&state=district_review", "district: list")
        waiting = _ids(r'href="/applications/(\d+)"', text)
        if not waiting:
            return
        application_id = random.choice(waiting[:10])
        self.page(f"/applications/{application_id}", "district: entry")
        trigger = "recommend" if random.random() < 0.7 else "return_for_correction"
        text = self.page(f"/applications/{application_id}/transitions/{trigger}",
                         f"district: {trigger} page")
        version = VERSION.search(text)
        if version is None:  # someone else acted first (409 page)
            return
        data = {"expected_version": version.group(1)}
        if trigger == "recommend":
            data.update(rank=str(random.randint(1, 50)), opinion="同意推荐。")
        else:
            data["comment"] = "请补充团队近一年的活动记录。"
        response = self.post(f"/applications/{application_id}/transitions/{trigger}",
                             f"district: {trigger}", data)
        LEDGER.answer(trigger, response.status_code, response.status_code == 302)


class CityAdmin(Person):
    """Watches the call, exports it, asks experts to review, advances entries to the notice."""

    fixed_count = 2
    role = "city_admins"

    @task(3)
    def lists(self) -> None:
        """The call's entries, its overview, the review progress, the audit log."""
        self.page(f"/admin/calls/{CALL}", "city: entries")
        self.page(random.choice([f"/admin/calls/{CALL}/overview",
                                 f"/admin/calls/{CALL}/review-progress", "/admin/audit",
                                 "/admin/"]), "city: overview")

    @task(1)
    def export(self) -> None:
        """Download the call's workbook or the district summary."""
        url = random.choice([f"/admin/calls/{CALL}/applications.xlsx",
                             f"/admin/calls/{CALL}/summary.xlsx"])
        self.page(url, "city: export")

    @task(4)
    def advance(self) -> None:
        """Take an entry in city review: ask an expert if it has none, else publish it."""
        text = self.page(f"/admin/calls/{CALL}?state=city_review&sort=-submitted",
                         "city: in review")
        mine = [i for i in _ids(r'href="/applications/(\d+)"', text)
                if i % 2 == self.username.endswith("2")]  # the two admins share the work
        if not mine:
            return
        application_id = random.choice(mine)
        text = self.page(f"/applications/{application_id}", "city: entry")
        experts = re.findall(r'<option value="(\d+)">ld_expert', text)
        if "/reviews/" not in text and experts:
            self.assign(application_id, random.choice(experts))
            return
        text = self.page(f"/applications/{application_id}/transitions/publish_notice",
                         "city: publish page")
        version = VERSION.search(text)
        if version is None or 'type="submit" disabled' in text:  # reviews not all in yet
            return
        response = self.post(f"/applications/{application_id}/transitions/publish_notice",
                             "city: publish", {"expected_version": version.group(1)})
        LEDGER.answer("publish_notice", response.status_code, response.status_code == 302)

    def assign(self, application_id: int, expert: str) -> None:
        """Ask an expert; the page says whether it was done (it redirects either way)."""
        response = self.post(f"/admin/applications/{application_id}/assign", "city: assign",
                             {"expert": expert})
        done = False
        if response.status_code == 302:
            text = self.page(f"/applications/{application_id}", "city: entry")
            done = 'class="flash success"' in text
        LEDGER.answer("assign", response.status_code, done)


class Expert(Person):
    """Opens assigned sheets, confirms no conflict, saves drafts and submits scores."""

    fixed_count = 10
    role = "experts"

    @task
    def review(self) -> None:
        """Take an open sheet from the queue and move it one step."""
        text = self.page("/reviews/", "expert: queue")
        # open sheets carry the primary "Score" button; submitted ones a plain "View"
        sheets = [i for i in _ids(r'class="button primary" href="/reviews/(\d+)"', text)
                  if LEDGER.sheets.get(i, {}).get("status") != "submitted"]
        drafts = [i for i in sheets if LEDGER.sheets.get(i, {}).get("status") == "draft"]
        if not sheets:
            return
        sheet = random.choice(drafts if drafts and random.random() < 0.5 else sheets[:6])
        text = self.page(f"/reviews/{sheet}", "expert: sheet")
        if 'name="answer"' in text:
            response = self.post(f"/reviews/{sheet}/conflict", "expert: no conflict",
                                 {"answer": "none"})
            LEDGER.answer("no_conflict", response.status_code, response.status_code == 302)
            return
        if "criterion_" not in text:
            return
        draft = LEDGER.sheets.get(sheet, {}).get("status") == "draft"
        submit = draft and random.random() < 0.6
        scores = {key: str(int(value) - random.randint(0, 3))
                  for key, value in PLAN["scores"].items()}
        response = self.post(f"/reviews/{sheet}", f"expert: {'submit' if submit else 'save'}", {
            **{f"criterion_{k}": v for k, v in scores.items()},
            "comment": f"{self.username} 评语 {time.time():.3f}",
            "action": "submit" if submit else "save"})
        if LEDGER.answer("score_submit" if submit else "score_save", response.status_code,
                         response.status_code == 302):
            LEDGER.sheets[sheet] = {"scores": scores, "status": "submitted" if submit else "draft"}


class Public(Person):
    """Reads the notice list, sometimes objects, follows the receipt; verifies certificates."""

    fixed_count = 8
    wait_time = between(5, 15)

    @task(4)
    def notices(self) -> None:
        """The notice list, and now and then an objection to one entry with its receipt."""
        text = self.page("/notices", "public: notices")
        entries = _ids(r"/notices/(\d+)/objection", text)
        if not entries or random.random() < 0.8:
            return
        application_id = random.choice(entries)
        self.page(f"/notices/{application_id}/objection", "public: objection page")
        response = self.post(f"/notices/{application_id}/objection", "public: objection", {
            "name": "压测市民", "contact": "13800000000",
            "reason": f"压测异议 {time.time():.3f}：请核实该团队的活动记录。"})
        found = re.search(r"/notices/objections/([^/?]+)", response.headers.get("Location", ""))
        if LEDGER.answer("objection", response.status_code,
                         response.status_code == 302 and found is not None):
            LEDGER.receipts.append(found.group(1))
            self.page(f"/notices/objections/{found.group(1)}", "public: receipt")

    @task(3)
    def verify(self) -> None:
        """Check a certificate by its code (the QR code's link), or a made-up one."""
        codes = PLAN["certificate_codes"]
        code = random.choice(codes) if codes and random.random() < 0.8 else "no-such-code"
        with self.client.get(f"/verify/{code}", name="public: verify",
                             catch_response=True) as response:
            if response.status_code >= 500:
                response.failure(str(response.status_code))
            else:
                response.success()

    @task(1)
    def home(self) -> None:
        """The front page."""
        self.page("/", "public: home")
