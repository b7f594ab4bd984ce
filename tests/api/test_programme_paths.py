"""Every shipped programme, driven through the API along paths that reach every final state and
take every transition at least once.

The driver reads only the definition (as a bureau's engineer would): it fills the application
form and each stage's sections with values the form accepts, uploads a file of an accepted type
to every file field, takes each step as a user of the step's role (the applicant, their district,
the city), gives a comment where one is required and the step form where there is one, has
experts score where a decision needs sheets, proposes and confirms award levels where a step
needs one, raises and sustains an objection for the step a notice names, and lets the clock
pass for a step a deadline fires. After each step it checks the state the API reports and, at the
end, that the entry is final with the state's outcome and that its history holds every step.
"""

from __future__ import annotations

import io
from collections import deque
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from app.engine.definitions import Programme
from app.extensions import db
from app.models.base import utcnow
from app.services.accounts import add_user
from app.services.demo import SAMPLE_PDF
from app.services.programmes import catalogue
from app.services.timers import run_timers
from tests.conftest import PASSWORD

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
ZIP = b"PK\x03\x04" + b"\x00" * 60
SAMPLES = {"pdf": SAMPLE_PDF, "png": PNG, "jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 64,
           "jpeg": b"\xff\xd8\xff\xe0" + b"\x00" * 64, "mp4": MP4, "zip": ZIP}
EXPERTS = 6


def steps_by_source(programme: Programme) -> dict[str, list[dict[str, Any]]]:
    """Each state's outgoing transitions, each marked with the state it is taken from."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for t in programme.transitions:
        for source in t["source"]:
            by_source.setdefault(source, []).append({**t, "from": source})
    return by_source


def shortest(programme: Programme, start: str, goal: Any) -> list[dict[str, Any]] | None:
    """The fewest transitions from ``start`` to a state ``goal`` accepts."""
    by_source = steps_by_source(programme)
    queue: deque[tuple[str, list[dict[str, Any]]]] = deque([(start, [])])
    seen = {start}
    while queue:
        state, path = queue.popleft()
        if goal(state):
            return path
        for t in by_source.get(state, []):
            if t["dest"] not in seen:
                seen.add(t["dest"])
                queue.append((t["dest"], [*path, t]))
    return None


def path_to(programme: Programme, state: str) -> list[dict[str, Any]]:
    """The fewest transitions from the initial state to ``state``."""
    path = shortest(programme, programme.initial, lambda name: name == state)
    assert path is not None, f"{programme.key}: {state} unreachable"
    return path


def plan_paths(programme: Programme) -> list[list[dict[str, Any]]]:
    """Transition sequences from the initial state: one to each final state, then one through
    every transition no earlier sequence took."""
    paths = [path_to(programme, final["name"])
             for final in programme.states.values() if final["final"]]
    taken = {(t["trigger"], t["from"]) for path in paths for t in path}
    for steps in steps_by_source(programme).values():
        for t in steps:
            if (t["trigger"], t["from"]) in taken:
                continue
            tail = shortest(programme, t["dest"], programme.is_final)
            assert tail is not None
            path = [*path_to(programme, t["from"]), t, *tail]
            taken |= {(step["trigger"], step["from"]) for step in path}
            paths.append(path)
    return paths


def sample(field: dict[str, Any], at_least: dict[str, Decimal]) -> Any:
    """A value the field accepts (and that the eligibility guards accept)."""
    kind = field["type"]
    if kind in ("text", "textarea"):
        text = "社区教育示范材料内容" * 30
        length = max(field.get("min_length") or 0, min(field.get("max_length") or 40, 40))
        return text[:length]
    if kind in ("integer", "decimal"):
        low = max(Decimal(str(field.get("min") or 0)), at_least.get(field["key"], Decimal(0)))
        high = Decimal(str(field["max"])) if field.get("max") is not None else low + 100
        value = min(max(low, Decimal(10)), high)
        return int(value) if kind == "integer" else float(value.quantize(Decimal("0.01")))
    if kind == "date":
        return "2015-03-01"
    if kind == "choice":
        return field["choices"][0]["value"]
    if kind == "multi_choice":
        return [field["choices"][0]["value"]]
    if kind == "boolean":
        return True
    if kind == "phone":
        return "13912345678"
    if kind == "email":
        return "someone@example.cn"
    if kind == "id_number":
        return "11010519491231002X"
    if kind == "table":
        row = {c["key"]: sample(c, {}) for c in field["columns"]}
        return [dict(row) for _ in range(max(field.get("min_rows") or 1, 1))]
    raise AssertionError(f"no sample for {kind}")


def field_minimums(programme: Programme) -> dict[str, Decimal]:
    """The minimum each field_at_least guard asks of its field."""
    found: dict[str, Decimal] = {}
    for t in programme.transitions:
        for ref in t["guards"]:
            if ref["name"] == "field_at_least":
                key = ref["params"]["field"]
                found[key] = max(found.get(key, Decimal(0)), Decimal(str(ref["params"]["min"])))
    return found


def sample_file(field: dict[str, Any]) -> tuple[bytes, str]:
    """A small file of a type the field accepts."""
    for extension in ("pdf", "png", "jpg", "zip", "mp4", "jpeg"):
        if extension in field["accept"]:
            return SAMPLES[extension], f"样例.{extension}"
    extension = field["accept"][0]
    return (ZIP if extension in ("docx", "xlsx", "pptx") else SAMPLE_PDF), f"样例.{extension}"


class Driver:
    """Takes one entry of one call along a path, as the users of each role would."""

    def __init__(self, api: Any, programme: Programme, number: int,
                 callers: dict[str, Any] | None = None) -> None:
        self.api, self.programme = api, programme
        callers = callers or log_in(api)
        self.city = callers["city_admin"]
        self.callers = {role: callers[role] for role in ("applicant", "district_admin",
                                                         "city_admin")}
        self.experts = {name: callers[name] for name in expert_names()}
        now = utcnow()
        created = self.city.post("/api/v1/calls", json={
            "programme": programme.key, "title": f"{programme.title} 路径{number}",
            "year": 2026, "opens_at": _iso(now - timedelta(days=1)),
            "closes_at": _iso(now + timedelta(days=30)), "quotas": {}})
        assert created.status_code == 201, created.get_json()
        self.call_id = created.get_json()["id"]
        entry = self.callers["applicant"].post("/api/v1/applications",
                                               json={"call_id": self.call_id, "data": {}})
        assert entry.status_code == 201, entry.get_json()
        self.id = entry.get_json()["id"]
        self.base = f"/api/v1/applications/{self.id}"

    def drive(self, path: list[dict[str, Any]]) -> dict[str, Any]:
        """Take every step of the path, checking the state after each."""
        for step in path:
            shown = self.callers["applicant"].get(self.base).get_json()
            assert shown["state"] == step["from"], (step["trigger"], shown["state"])
            if shown["editable_fields"]:
                self.fill(shown["editable_fields"])
            self.take(step)
            state = self.callers["applicant"].get(self.base).get_json()["state"]
            assert state == step["dest"], (self.programme.key, step["trigger"], state)
        return self.callers["applicant"].get(self.base).get_json()

    def fill(self, keys: list[str]) -> None:
        """Fill the open fields with accepted values and attach a file to each file field."""
        fields = self.programme.application_form.by_key
        minimums = field_minimums(self.programme)
        data = {k: sample(fields[k], minimums) for k in keys if fields[k]["type"] != "file"}
        applicant = self.callers["applicant"]
        patched = applicant.patch(self.base, json={"data": data})
        assert patched.status_code == 200, patched.get_json()
        for key in (k for k in keys if fields[k]["type"] == "file"):
            body, name = sample_file(fields[key])
            uploaded = applicant.post(f"{self.base}/attachments",
                                      content_type="multipart/form-data",
                                      data={key: (io.BytesIO(body), name)})
            assert uploaded.status_code == 201, uploaded.get_json()

    def take(self, step: dict[str, Any]) -> None:
        """One step, by whatever its definition needs."""
        source = self.programme.states[step["from"]]
        deadline = source["deadline"]
        if source["notice"] and source["notice"]["sustained"] == step["trigger"]:
            return self.sustain_objection()
        if deadline and deadline["fire"] == step["trigger"] and "applicant" not in step["roles"] \
                and "city_admin" not in step["roles"]:
            run_timers(utcnow() + timedelta(days=400))
            return None
        names = {ref["name"] for ref in step["guards"]}
        share = Decimal("0.5") if "round_score_below" in names else Decimal("0.8")
        for ref in step["guards"]:
            if ref["name"] == "all_reviews_submitted":
                self.score(step["from"], ref["params"].get("min") or 1, share)
            elif ref["name"] == "award_confirmed":
                self.confirm_award(ref["params"])
        role = next(r for r in ("applicant", "district_admin", "city_admin") if r in step["roles"])
        body: dict[str, Any] = {"trigger": step["trigger"]}
        if step["comment"] != "none":
            body["comment"] = "按程序办理，意见如上。"
        if step["form"]:
            form = self.programme.forms[step["form"]]
            body["data"] = {f["key"]: sample(f, {}) for f in form.fields}
        fired = self.callers[role].post(f"{self.base}/transitions", json=body)
        assert fired.status_code == 200, (self.programme.key, step["trigger"], fired.get_json())
        return None

    def score(self, state: str, at_least: int, share: Decimal = Decimal("0.8")) -> None:
        """Assign enough experts and have each submit a full sheet."""
        review = self.programme.review_round(state)
        assert review is not None
        assigned = self.city.get(f"{self.base}/assignments").get_json()
        done = {a["expert"] for a in assigned if a["status"] == "submitted"
                and a["rubric"] == review.rubric.raw["key"]}
        wanted = max(at_least, review.quorum or 1)
        if review.live and not done:
            return self.score_live(state, review)
        for name in expert_names():
            if len(done) >= wanted:
                break
            if name in done:
                continue
            made = self.city.post(f"{self.base}/assignments", json={"expert": name})
            assert made.status_code == 201, made.get_json()
            self.submit_sheet(name, made.get_json()["id"], review, share)
            done.add(name)
        return None

    def score_live(self, state: str, review: Any) -> None:
        """A live round: a panel of five, assigned, order drawn, the entry opened, all score."""
        members = expert_names()[:5]
        panel = self.city.post(f"/api/v1/calls/{self.call_id}/panels", json={
            "round": state, "name": "第一专家组", "members": members, "chair": members[0]})
        assert panel.status_code == 201, panel.get_json()
        panel_id = panel.get_json()["id"]
        for action, body in (("assign", {"application_ids": [self.id]}), ("draw", None),
                             ("open", {"application_id": self.id})):
            answer = self.city.post(f"/api/v1/panels/{panel_id}/{action}", json=body)
            assert answer.status_code == 200, answer.get_json()
        for sheet in self.city.get(f"{self.base}/assignments").get_json():
            if sheet["rubric"] == review.rubric.raw["key"]:
                self.submit_sheet(sheet["expert"], sheet["id"], review)

    def submit_sheet(self, name: str, sheet: int, review: Any,
                     share: Decimal = Decimal("0.8")) -> None:
        """The expert confirms no conflict and submits a share of every criterion's points
        (80 %, or 50 % where the step needs a failing score)."""
        expert = self.experts[name]
        expert.post(f"/api/v1/reviews/{sheet}/conflict", json={"conflict": False})
        scores = {leaf["key"]: float((Decimal(str(leaf["max"])) * share)
                                     .quantize(Decimal("0.5"), ROUND_DOWN))
                  for leaf in review.rubric.leaves}
        sent = expert.put(f"/api/v1/reviews/{sheet}", json={
            "scores": scores, "comment": "材料翔实，建议通过。", "submit": True})
        assert sent.status_code == 200, sent.get_json()

    def confirm_award(self, params: dict[str, Any]) -> None:
        """Propose levels and confirm the one the step needs (or none), with a reason."""
        awards = self.programme.workflow["reviews"]["awards"]
        if params.get("awarded", True) is False:
            wanted = None
        else:
            wanted = (params.get("levels") or [awards["levels"][0]["name"]])[0]
        proposal = self.city.post(f"/api/v1/calls/{self.call_id}/award-proposals")
        assert proposal.status_code == 201, proposal.get_json()
        body = proposal.get_json()
        [row] = [r for r in body["rows"] if r["entry"] == self.id]
        confirm: dict[str, Any] = {}
        if row["level"] != wanted:
            confirm = {"changes": {str(self.id): wanted}, "note": "按专家组意见调整等级"}
        confirmed = self.city.post(f"/api/v1/award-proposals/{body['id']}/confirm", json=confirm)
        assert confirmed.status_code == 200, confirmed.get_json()

    def sustain_objection(self) -> None:
        """Raise an objection as the public and have the city sustain it."""
        raised = self.api.anonymous.post(f"{self.base}/objections", json={
            "name": "王先生", "contact": "13800001111",
            "reason": "该申报材料中的活动记录与实际情况不符。"})
        assert raised.status_code == 201, raised.get_json()
        [objection] = [o for o in self.city.get(
            f"/api/v1/calls/{self.call_id}/objections").get_json() if o["status"] == "open"]
        decided = self.city.post(f"/api/v1/objections/{objection['id']}/decide", json={
            "decision": "sustained", "outcome": "经核查，异议成立。"})
        assert decided.status_code == 200, decided.get_json()


def log_in(api: Any) -> dict[str, Any]:
    """A caller per role the driver acts as, and one per expert (logging in costs a hash)."""
    return {"applicant": api.login("wj1"), "district_admin": api.login("wj_admin"),
            "city_admin": api.login("city"), **{name: api.login(name) for name in expert_names()}}


def expert_names() -> list[str]:
    """The experts the driver uses."""
    return [f"pathexpert{n}" for n in range(1, EXPERTS + 1)]


def _iso(moment: Any) -> str:
    """A call time as the API takes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")




def pytest_generate_tests(metafunc: Any) -> None:
    """One test per shipped programme (read from workflows/ when the tests are collected)."""
    if "programme_key" in metafunc.fixturenames:
        from app.engine.loader import load_catalogue

        root = Path(__file__).resolve().parents[2]
        keys = sorted(load_catalogue(root / "workflows", root / "forms"))
        metafunc.parametrize("programme_key", keys)


def test_every_path_of_the_programme_reaches_its_end(api, world, programme_key):
    for name in expert_names():
        add_user(name, "expert", "X-OU", PASSWORD, f"路径专家{name[-1]}")
    db.session.commit()
    programme = catalogue()[programme_key]
    paths = plan_paths(programme)
    finals, callers = set(), log_in(api)
    for number, path in enumerate(paths, 1):
        driver = Driver(api, programme, number, callers)
        shown = driver.drive(path)
        end = programme.states[path[-1]["dest"]]
        assert shown["final"] is True and shown["outcome"] == end["outcome"]
        triggers = [h["trigger"] for h in shown["history"]]
        assert triggers == ["create", *(step["trigger"] for step in path)]
        finals.add(end["name"])
    assert finals == {s["name"] for s in programme.states.values() if s["final"]}
