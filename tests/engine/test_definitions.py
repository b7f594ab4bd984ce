"""Definition files: every shipped one loads; broken copies are refused with clear messages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from app.config import ROOT
from app.engine.errors import DefinitionError
from app.engine.loader import load_catalogue


def test_every_shipped_definition_loads():
    catalogue = load_catalogue(ROOT / "workflows", ROOT / "forms")
    team = catalogue["excellent_team"]
    assert team.title == "社区教育优秀团队遴选"
    assert team.initial == "draft"
    assert {s["outcome"] for s in team.workflow["states"] if s["final"]} == {
        "awarded", "rejected", "withdrawn"}
    assert team.rubrics["excellent_team_rubric"].max == 100


@pytest.fixture
def copy(tmp_path: Path):
    """Copy the shipped definitions; return an editor for one YAML file and a loader."""
    shutil.copytree(ROOT / "workflows", tmp_path / "workflows")
    shutil.copytree(ROOT / "forms", tmp_path / "forms")

    class Copy:
        def edit(self, relative: str, change) -> None:
            path = tmp_path / relative
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            change(doc)
            path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")

        def problems(self) -> list[str]:
            with pytest.raises(DefinitionError) as caught:
                load_catalogue(tmp_path / "workflows", tmp_path / "forms")
            return caught.value.problems

    return Copy()


WORKFLOW = "workflows/excellent_team.yaml"
CENTRE = "workflows/model_centre.yaml"


def _transition(doc, trigger):
    return next(t for t in doc["transitions"] if t["trigger"] == trigger)


def _state(doc, name):
    return next(s for s in doc["states"] if s["name"] == name)


BROKEN = [
    ("unknown guard", WORKFLOW,
     lambda d: _transition(d, "submit")["guards"].append("is_sunny"),
     "workflows/excellent_team.yaml: transitions[0].guards[3]: unknown name 'is_sunny'"),
    ("unknown action", WORKFLOW,
     lambda d: _transition(d, "submit")["actions"].append("send_fax"),
     "transitions[0].actions[1]: unknown name 'send_fax'"),
    ("transition to an unknown state", WORKFLOW,
     lambda d: _transition(d, "recommend").update(dest="city_reveiw"),
     "transitions[4].dest: unknown state 'city_reveiw'"),
    ("unreachable state", WORKFLOW,
     lambda d: d["states"].append({"name": "limbo", "label": "悬置", "final": True,
                                   "outcome": "closed"}),
     "state 'limbo' cannot be reached from 'draft'"),
    ("non-final state with no way out", WORKFLOW,
     lambda d: [_state(d, "notice").pop("deadline"), _state(d, "notice").pop("notice")] + [
         d["transitions"].remove(t) for t in list(d["transitions"])
         if "notice" in ([t["source"]] if isinstance(t["source"], str) else t["source"])],
     "state 'notice' is not final and has no transition out of it"),
    ("missing form", WORKFLOW,
     lambda d: d.update(form="no_such_form"),
     "workflows/excellent_team.yaml: form: unknown form 'no_such_form'"),
    ("missing step form", WORKFLOW,
     lambda d: _transition(d, "recommend").update(form="opinion_form"),
     "transitions[4].form: unknown form 'opinion_form'"),
    ("missing rubric", WORKFLOW,
     lambda d: _state(d, "city_review").update(review="no_rubric"),
     "states[3].review: unknown rubric 'no_rubric'"),
    ("misspelt key", WORKFLOW,
     lambda d: _transition(d, "withdraw").update(role=["applicant"]),
     "transitions[2].role: unknown key"),
    ("unknown role", WORKFLOW,
     lambda d: _transition(d, "withdraw").update(roles=["teacher"]),
     "transitions[2].roles[0]: must be one of applicant, city_admin, district_admin, expert"),
    ("leaving a final state", WORKFLOW,
     lambda d: _transition(d, "withdraw").update(source=["draft", "named"]),
     "transitions[2].source: 'named' is final: nothing may leave it"),
    ("final state without outcome", WORKFLOW,
     lambda d: _state(d, "named").pop("outcome"),
     "states[5].outcome: is required for a final state"),
    ("guard parameter naming an unknown state", WORKFLOW,
     lambda d: _transition(d, "recommend").update(
         guards=[{"within_quota": {"states": ["city_review", "shortlist"]}}]),
     "guards[0].within_quota.states[1]: unknown state 'shortlist'"),
    ("guard without its required parameter", WORKFLOW,
     lambda d: _transition(d, "recommend").update(guards=["within_quota"]),
     "guards[0].within_quota.states: is required"),
    ("unsafe serial pattern", WORKFLOW,
     lambda d: d["certificate"].update(serial="{seq.__class__}"),
     "certificate.serial: must contain {seq}"),
    ("a list where a state name belongs", WORKFLOW,
     lambda d: _transition(d, "recommend").update(dest=["city_review"]),
     "transitions[4].dest: unknown state ['city_review']"),
    ("a list where a form name belongs", WORKFLOW,
     lambda d: d.update(form=["excellent_team_application"]),
     "form: unknown form ['excellent_team_application']"),
    ("a rubric used as a form", WORKFLOW,
     lambda d: _transition(d, "recommend").update(form="excellent_team_rubric"),
     "transitions[4].form: 'excellent_team_rubric' is a rubric, not a form"),
    ("issuing a certificate without a certificate block", WORKFLOW,
     lambda d: d.pop("certificate"),
     "issue_certificate needs a 'certificate' block in the workflow"),
    ("waiting for reviews outside a review state", WORKFLOW,
     lambda d: _transition(d, "not_recommend").update(guards=["all_reviews_submitted"]),
     "'district_review' has no 'review'"),
    ("a zero minimum of reviews", WORKFLOW,
     lambda d: _transition(d, "publish_notice").update(
         guards=[{"all_reviews_submitted": {"min": 0}}]),
     "guards[0].all_reviews_submitted.min: must be at least 1"),
    ("a certificate holder that is not a text field", WORKFLOW,
     lambda d: d["certificate"].update(holder_field="members"),
     "certificate.holder_field: must name a text field, got 'members'"),
    ("a trigger name with a trailing newline", WORKFLOW,
     lambda d: _transition(d, "withdraw").update(trigger="withdraw\n"),
     "transitions[2].trigger: must be a name of a-z"),
    ("a label that is not text", WORKFLOW,
     lambda d: _state(d, "draft").update(label_en=["Draft"]),
     "states[0].label_en: must be a text"),
    ("unknown field type", "forms/excellent_team_application.yaml",
     lambda d: d["sections"][0]["fields"][0].update(type="colour"),
     "forms/excellent_team_application.yaml: sections[0].fields[0].type: must be one of"),
    ("duplicate field key", "forms/excellent_team_application.yaml",
     lambda d: d["sections"][1]["fields"][0].update(key="team_name"),
     "sections[1].fields[0].key: duplicate field key 'team_name'"),
    ("min above max", "forms/excellent_team_application.yaml",
     lambda d: d["sections"][0]["fields"][3].update(min=50, max=10),
     "sections[0].fields[3].min: must not be greater than max"),
    ("file type not supported", "forms/excellent_team_application.yaml",
     lambda d: d["sections"][4]["fields"][0].update(accept=["exe"]),
     "sections[4].fields[0].accept[0]: must be one of"),
    ("an unknown aggregation method", WORKFLOW,
     lambda d: d.update(reviews={"aggregation": {"method": "average"}}),
     "reviews.aggregation: method must be one of"),
    ("a trimmed mean that trims everything", WORKFLOW,
     lambda d: d.update(reviews={"aggregation": {"method": "trimmed_mean", "trim": 2,
                                                 "min_panel": 3}}),
     "reviews.aggregation: min_panel must leave at least one sheet after trimming both ends"),
    ("a tie-break on a criterion the rubric does not have", WORKFLOW,
     lambda d: d.update(reviews={"tie_break": ["criterion:charisma"]}),
     "reviews.tie_break[0]: must be submitted_at, round:<a review state> or criterion:<key"),
    ("a tie-break on a round that is not a review state", WORKFLOW,
     lambda d: d.update(reviews={"tie_break": ["round:notice"]}),
     "reviews.tie_break[0]: must be submitted_at, round:<a review state>"),
    ("a second review round without weights", WORKFLOW,
     lambda d: _state(d, "notice").update(review="excellent_team_rubric"),
     "states[4].review.weight: is required when the workflow has several review rounds"),
    ("round weights that do not sum to 1", WORKFLOW,
     lambda d: (_state(d, "city_review").update(review={"rubric": "excellent_team_rubric",
                                                        "weight": 0.3}),
                _state(d, "notice").update(review={"rubric": "excellent_team_rubric",
                                                   "weight": 0.6})),
     "states: the review rounds' weights must sum to 1, got 0.9"),
    ("a round weight above 1", WORKFLOW,
     lambda d: _state(d, "city_review").update(review={"rubric": "excellent_team_rubric",
                                                       "weight": 1.5}),
     "states[3].review.weight: must be a number from 0 to 1, got 1.5"),
    ("a round with an unknown setting", WORKFLOW,
     lambda d: _state(d, "city_review").update(review={"rubric": "excellent_team_rubric",
                                                       "blindly": True}),
     "states[3].review.blindly: unknown key (allowed: aggregation, blind, label, label_en, live, "
     "quorum"),
    ("a zero quorum", WORKFLOW,
     lambda d: _state(d, "city_review").update(review={"rubric": "excellent_team_rubric",
                                                       "quorum": 0}),
     "states[3].review.quorum: must be at least 1"),
    ("a round's own aggregation with an unknown method", WORKFLOW,
     lambda d: _state(d, "city_review").update(review={"rubric": "excellent_team_rubric",
                                                       "aggregation": {"method": "mode"}}),
     "states[3].review.aggregation: method must be one of"),
    ("waiting for confirmed awards without award rules", WORKFLOW,
     lambda d: _transition(d, "name_team").update(guards=["award_confirmed"]),
     "transitions[9].guards: award_confirmed needs a 'reviews.awards' block"),
    ("an award level without a rule", WORKFLOW,
     lambda d: d.update(reviews={"awards": {"levels": [{"name": "一等奖"}]}}),
     "reviews.awards.levels[0]: needs a proportion, a threshold or both"),
    ("award shares over 100 %", WORKFLOW,
     lambda d: d.update(reviews={"awards": {"levels": [{"name": "一等奖", "proportion": 0.6},
                                                       {"name": "二等奖", "proportion": 0.5}]}}),
     "reviews.awards.levels: award level proportions add up to more than 100%"),
    ("award thresholds out of order", WORKFLOW,
     lambda d: d.update(reviews={"awards": {"levels": [{"name": "合格", "threshold": 75},
                                                       {"name": "优秀", "threshold": 90}]}}),
     "reviews.awards.levels: award levels must be listed highest first"),
    ("awards grouped by a field that is not a choice", WORKFLOW,
     lambda d: d.update(reviews={"awards": {"levels": [{"name": "优秀", "threshold": 90}],
                                            "group_by": "field:team_name", "cap": 2}}),
     "reviews.awards.group_by: must be district or field:<key of a choice field>"),
    ("a cap without a group", WORKFLOW,
     lambda d: d.update(reviews={"awards": {"levels": [{"name": "优秀", "threshold": 90}],
                                            "cap": 2}}),
     "reviews.awards.group_by: is required with per_group or cap"),
    ("an unknown placeholder in the certificate text", WORKFLOW,
     lambda d: d["certificate"].update(text=["授予{name}荣誉称号。"]),
     "certificate.text[0]: unknown placeholder {name} (known: award, call, holder"),
    ("a placeholder that reaches into an object", WORKFLOW,
     lambda d: d["certificate"].update(text=["{award.__class__}"]),
     "certificate.text[0]: unknown placeholder {award.__class__}"),
    ("four paragraphs of certificate text", WORKFLOW,
     lambda d: d["certificate"].update(text=["一。", "二。", "三。", "四。"]),
     "certificate.text: at most 3 paragraphs fit on a certificate"),
    ("a certificate template key that reaches for a path", WORKFLOW,
     lambda d: d["certificate"].update(template="../../etc/passwd"),
     "certificate.template.default: must be a template key"),
    ("a certificate template per award level that is not a key", WORKFLOW,
     lambda d: d["certificate"].update(template={"default": "landscape", "一等奖": 3}),
     "certificate.template.一等奖: must be a template key"),
    ("a certificate template that is a list", WORKFLOW,
     lambda d: d["certificate"].update(template=["landscape"]),
     "certificate.template: must be a template key or a mapping of award levels"),
    ("a deadline with two kinds", WORKFLOW,
     lambda d: _state(d, "notice").update(deadline={"days": 5, "working_days": 5,
                                                     "fire": "name_team"}),
     "states[4].deadline: needs exactly one of days, working_days, date, call_closes"),
    ("a deadline that fires a move that does not leave the state", WORKFLOW,
     lambda d: _state(d, "notice").update(deadline={"days": 5, "fire": "submit"}),
     "states[4].deadline.fire: no transition 'submit' leaves 'notice'"),
    ("a deadline that fires a move needing a comment", WORKFLOW,
     lambda d: _state(d, "notice").update(deadline={"days": 5, "fire": "objection_upheld"}),
     "'objection_upheld' requires a comment; the system cannot write one"),
    ("a deadline date that is not a date", WORKFLOW,
     lambda d: _state(d, "notice").update(deadline={"date": "June 30", "fire": "name_team"}),
     "states[4].deadline.date: must be a date written YYYY-MM-DD"),
    ("a deadline on a final state", WORKFLOW,
     lambda d: _state(d, "named").update(deadline={"days": 5, "fire": "name_team"}),
     "states[5].deadline: a final state cannot have a deadline"),
    ("a public notice showing a file field", WORKFLOW,
     lambda d: _state(d, "notice")["notice"].update(fields=["team_name", "charter"]),
     "states[4].notice.fields[1]: 'charter' is a file field"),
    ("a public notice whose sustained objection fires a move that does not leave it", WORKFLOW,
     lambda d: _state(d, "notice")["notice"].update(sustained="decline"),
     "states[4].notice.sustained: no transition 'decline' leaves 'notice'"),
    ("a final state that is a review round", WORKFLOW,
     lambda d: _state(d, "named").update(review="excellent_team_rubric"),
     "states[5].review: a final state cannot be a review round"),
    ("a list where a field type belongs", "forms/excellent_team_application.yaml",
     lambda d: d["sections"][0]["fields"][0].update(type=["text"]),
     "sections[0].fields[0].type: must be one of"),
    ("rubric maxima that do not add up", "forms/excellent_team_rubric.yaml",
     lambda d: d["criteria"].__setitem__(0, {"key": "o", "label": "组织", "max": 20, "criteria": [
         {"key": "a", "label": "甲", "max": 5}, {"key": "b", "label": "乙", "max": 5}]}),
     "criteria[0].max: is 20 but its sub-criteria add up to 10"),
    # stage sections, grades from one round, steps that need a given grade
    ("a stage filling a section the form does not have", CENTRE,
     lambda d: _state(d, "tracking_year1").update(fill=["tracking_year3"]),
     "states[7].fill[0]: unknown section 'tracking_year3' (the sections of form "
     "'model_centre_application' with a key: acceptance, rectification, tracking_year1, "
     "tracking_year2)"),
    ("one section filled in two stages", CENTRE,
     lambda d: _state(d, "tracking_year2").update(fill=["tracking_year1"]),
     "states[9].fill[0]: section 'tracking_year1' is already filled in state 'tracking_year1'"),
    ("an editable stage", CENTRE,
     lambda d: _state(d, "tracking_year1").update(editable=True),
     "states[7].fill: an editable state already opens the application form"),
    ("a final state filling a section", CENTRE,
     lambda d: _state(d, "named").update(fill=["acceptance"]),
     "a final state cannot have sections to fill in"),
    ("a section key used twice", "forms/model_centre_application.yaml",
     lambda d: d["sections"][-1].update(key="acceptance"),
     "duplicate section key 'acceptance'"),
    ("grades from a state that is no review round", CENTRE,
     lambda d: d["reviews"]["awards"].update(basis="round:rectification"),
     "reviews.awards.basis: must be final or round:<review state>"),
    ("a step waiting for a level the awards do not have", CENTRE,
     lambda d: _transition(d, "pass_acceptance")["guards"].__setitem__(
         1, {"award_confirmed": {"levels": ["良好"]}}),
     "award_confirmed: unknown level '良好' (the levels of reviews.awards: 优秀, 合格, 暂缓通过)"),
    ("levels with awarded: false", CENTRE,
     lambda d: _transition(d, "pass_acceptance")["guards"].__setitem__(
         1, {"award_confirmed": {"levels": ["优秀"], "awarded": False}}),
     "award_confirmed: levels and awarded: false exclude each other"),
    ("a pass mark read from a state that is no review round", CENTRE,
     lambda d: _transition(d, "pass_reinspection")["guards"].__setitem__(
         1, {"round_score_at_least": {"round": "rectification", "min": 75}}),
     "round_score_at_least needs a review state; 'rectification' has no 'review'"),
    ("a pass mark read from a state that does not exist", CENTRE,
     lambda d: _transition(d, "pass_reinspection")["guards"].__setitem__(
         1, {"round_score_at_least": {"round": "reinspect", "min": 75}}),
     "round_score_at_least.round: unknown state 'reinspect'"),
    ("a level too long to record", CENTRE,
     lambda d: _transition(d, "pass_reinspection")["actions"].__setitem__(
         0, {"set_award": {"level": "合" * 41}}),
     "set_award.level: must be at most 40 characters"),
]

@pytest.mark.parametrize(("case", "file", "change", "message"), BROKEN,
                         ids=[case for case, *_ in BROKEN])
def test_broken_copy_is_refused_naming_file_and_field(copy, case, file, change, message):
    copy.edit(file, change)
    problems = copy.problems()
    assert any(message in problem for problem in problems), problems


def test_yaml_syntax_error_names_the_file(copy, tmp_path):
    (tmp_path / "workflows" / "broken.yaml").write_text("key: [unclosed\n", encoding="utf-8")
    assert any(p.startswith("workflows/broken.yaml: not valid YAML") for p in copy.problems())


def test_duplicate_programme_key_is_refused(copy, tmp_path):
    shutil.copy(tmp_path / WORKFLOW, tmp_path / "workflows" / "again.yaml")
    assert any("already defined by another file" in p for p in copy.problems())


def test_decimal_maxima_add_up_exactly(copy, tmp_path):
    copy.edit("forms/excellent_team_rubric.yaml", lambda d: d["criteria"].__setitem__(0, {
        "key": "organisation", "label": "组织管理", "max": 0.3,
        "criteria": [{"key": "a", "label": "甲", "max": 0.1},
                     {"key": "b", "label": "乙", "max": 0.2}]}))
    copy.edit("forms/excellent_team_rubric.yaml", lambda d: d["criteria"][1].update(max=34.7))
    catalogue = load_catalogue(tmp_path / "workflows", tmp_path / "forms")
    assert catalogue["excellent_team"].rubrics["excellent_team_rubric"].raw["max"] == 100


def test_broken_files_stop_the_app_with_a_list_not_a_traceback(tmp_path):
    import subprocess
    import sys

    shutil.copytree(ROOT / "forms", tmp_path / "forms")
    (tmp_path / "workflows").mkdir()
    text = (ROOT / "workflows" / "excellent_team.yaml").read_text(encoding="utf-8")
    (tmp_path / "workflows" / "excellent_team.yaml").write_text(
        text.replace("dest: city_review", "dest: city_reveiw"), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PINGSHEN_WORKFLOWS": str(tmp_path / "workflows"),
           "PINGSHEN_FORMS": str(tmp_path / "forms"), "FLASK_APP": str(ROOT / "wsgi.py"),
           "PINGSHEN_INSTANCE": str(tmp_path / "instance")}
    result = subprocess.run([sys.executable, "-m", "flask", "workflows", "check"], env=env,
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "workflows/excellent_team.yaml: transitions[4].dest: unknown state 'city_reveiw'" \
        in result.stderr
    assert "1 problem(s) in the definitions" in result.stderr


def test_folded_chinese_text_has_no_stray_spaces():
    import re

    catalogue = load_catalogue(ROOT / "workflows", ROOT / "forms")
    team = catalogue["excellent_team"].workflow["description"]
    raw = yaml.safe_load((ROOT / "workflows" / "excellent_team.yaml").read_text("utf-8"))
    assert re.search(r"[\u4e00-\u9fff，。] [\u4e00-\u9fff]", raw["description"])  # YAML's join
    assert not re.search(r"[\u4e00-\u9fff，。] [\u4e00-\u9fff]", team)
    assert team.replace(" ", "") == raw["description"].replace(" ", "")
