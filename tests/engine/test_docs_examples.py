"""The examples in docs/definitions.md are checked against the code, so the page cannot drift.

Conventions in the page (fenced code blocks, info strings):

- ```yaml title="workflows/x.yaml"``` (or forms/…) is a complete example file. Together they form
  one catalogue that the loader must accept.
- ```diff title="forms/x.yaml"``` changes one example file (`-` lines removed, `+` lines added,
  ` ` lines kept; a diff of only `+` lines is a new file). The next block, ```text
  title="problems"```, is exactly what the check reports for the changed catalogue; or, when the
  next block is ```text title="$ flask …  (…)"```, it is exactly what that real `flask` command
  (run as a separate process through wsgi.py) prints on stderr for the changed files.
- ```json title="sent to forms/x.yaml"``` is form data; the next block ```json title="stored"```
  (when present) is what is stored, otherwise it is stored unchanged.
- A table after `<!-- value-errors: forms/x.yaml -->` lists refused values: field, value sent
  (JSON), message. A table after `<!-- required-errors: forms/x.yaml -->` lists what an empty
  entry misses at submission.
- Other ```text title="$ flask workflows …"``` blocks are the commands' output for the example
  files (§7.2's: after a change to a recorded version).

The database used here is a SQLite file per test (the page describes the files, not the database).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.engine import forms_schema, review_settings, rubric_schema, workflow_schema
from app.engine.checker import Checker
from app.engine.definitions import FormDef
from app.engine.errors import DefinitionChanged, DefinitionError, ValidationFailed
from app.engine.formdata import clean_data, missing_required
from app.engine.forms_schema import check_form
from app.engine.loader import load_catalogue
from app.engine.registry import ACTIONS, GUARDS
from app.engine.runtime import fire
from app.extensions import db
from app.models import Certificate
from app.models.base import utcnow
from app.services.accounts import add_organisation, add_user
from app.services.applications import create_application
from app.services.calls import open_call
from app.services.programmes import CATALOGUE
from app.services.reviews import assign_expert, save_review
from app.services.rounds import entry_scores
from tests.conftest import confirmed

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "definitions.md"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w+)(?P<info>.*)$")
ATTRIBUTE = re.compile(r'(\w[\w-]*)="([^"]*)"')


class Block(NamedTuple):
    """One fenced code block of the page."""

    lang: str
    title: str
    body: str
    line: int


def read_blocks(text: str) -> list[Block]:
    """Every fenced block with a language, in page order (indented blocks too)."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match:
            indent, start = match["indent"], i
            body = []
            i += 1
            while lines[i] != f"{indent}```":
                body.append(lines[i][len(indent):])
                i += 1
            title = dict(ATTRIBUTE.findall(match["info"])).get("title", "")
            blocks.append(Block(match["lang"], title, "\n".join(body) + "\n", start + 1))
        i += 1
    return blocks


PAGE = DOC.read_text(encoding="utf-8")
BLOCKS = read_blocks(PAGE)
EXAMPLES = {b.title: b.body for b in BLOCKS if b.lang == "yaml" and "/" in b.title}
FOLLOWING = dict(zip(BLOCKS, [*BLOCKS[1:], Block("", "", "", 0)], strict=True))
DIFFS = [b for b in BLOCKS if b.lang == "diff"]
ERROR_EXAMPLES = [(b, FOLLOWING[b]) for b in DIFFS if FOLLOWING[b].title == "problems"]
COMMAND_EXAMPLES = [(b, FOLLOWING[b]) for b in DIFFS if FOLLOWING[b].title.startswith("$ flask ")]
SENT_EXAMPLES = [(b, FOLLOWING[b] if FOLLOWING[b].title == "stored" else b)
                 for b in BLOCKS if b.title.startswith("sent to ")]


def apply_diff(files: dict[str, str], name: str, diff: str) -> None:
    """Apply a documented change to one example file (or create a new file)."""
    lines = diff.splitlines()
    old = [line[1:] for line in lines if line[:1] in ("", " ", "-")]
    new = [line[1:] for line in lines if line[:1] in ("", " ", "+")]
    if not old:
        files[name] = "\n".join(new) + "\n"
        return
    before, after = "\n".join(old) + "\n", "\n".join(new) + "\n"
    assert files[name].count(before) == 1, f"the lines to change are not found once in {name}"
    files[name] = files[name].replace(before, after)


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write definition files under root/workflows and root/forms."""
    for folder in ("workflows", "forms"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")


def problems_for(root: Path, files: dict[str, str]) -> list[str]:
    """What the check reports for these files (empty when they are accepted)."""
    write_files(root, files)
    try:
        load_catalogue(root / "workflows", root / "forms")
    except DefinitionError as exc:
        return exc.problems
    return []


def example_form(name: str) -> FormDef:
    """A documented form file, checked and normalised."""
    problems: list[str] = []
    form = check_form(yaml.safe_load(EXAMPLES[name]), Checker(name, problems))
    assert form is not None, problems
    return FormDef(form)


def table_after(marker: str) -> list[list[str]]:
    """The body rows of the markdown table after an HTML comment, cells without backticks."""
    lines = PAGE.split(f"<!-- {marker} -->", 1)[1].strip().splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("`") for cell in line.strip("|").split(" | ")])
    return rows


def output_block(title: str) -> str:
    """The body of the one text block with this title."""
    found = [b.body for b in BLOCKS if b.lang == "text" and b.title == title]
    assert len(found) == 1, title
    return found[0].rstrip("\n")


def command_output(app: Flask, *args: str, stream: str = "output") -> str:
    """Run a `flask` command on the app; return its output, lines stripped at the right."""
    result = app.test_cli_runner().invoke(args=list(args))
    text = getattr(result, stream)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def test_example_files_are_accepted(tmp_path):
    assert len(EXAMPLES) == 5 and len(ERROR_EXAMPLES) >= 30 and len(COMMAND_EXAMPLES) >= 1
    assert len(ERROR_EXAMPLES) + len(COMMAND_EXAMPLES) == len(DIFFS)
    write_files(tmp_path, EXAMPLES)
    catalogue = load_catalogue(tmp_path / "workflows", tmp_path / "forms")

    programme = catalogue["learning_star"]
    assert set(programme.forms) == {"learning_star_nomination", "learning_star_district_opinion"}
    assert programme.rubrics["learning_star_rubric"].max == 100
    assert [leaf["key"] for leaf in programme.rubrics["learning_star_rubric"].leaves] == [
        "persistence", "achievements", "helping_others", "community_service", "materials"]


def test_the_page_names_every_key_type_and_value_the_validator_knows():
    names = (
        set(GUARDS) | set(ACTIONS) | {p for rule in GUARDS.values() for p in rule.params}
        | workflow_schema.WORKFLOW_REQUIRED | workflow_schema.WORKFLOW_OPTIONAL
        | workflow_schema.STATE_OPTIONAL | workflow_schema.TRANSITION_OPTIONAL
        | workflow_schema.OUTCOMES | workflow_schema.ROLES | workflow_schema.STYLES
        | workflow_schema.CERTIFICATE_OPTIONAL
        | workflow_schema.COMMENT_MODES | forms_schema.FIELD_TYPES | forms_schema.COMMON_KEYS
        | forms_schema.FILE_EXTENSIONS
        | {key for keys in forms_schema.TYPE_KEYS.values() for key in keys}
        | rubric_schema.RUBRIC_OPTIONAL | rubric_schema.CRITERION_OPTIONAL
        | rubric_schema.BAND_OPTIONAL | rubric_schema.VETO_OPTIONAL
        | review_settings.REVIEW_KEYS | review_settings.AGGREGATION_KEYS
        | review_settings.ROUND_KEYS | review_settings.AWARD_KEYS | review_settings.LEVEL_KEYS
    )

    assert {name for name in names if f"`{name}`" not in PAGE} == set()
    assert {name for name in workflow_schema.TEXT_PLACEHOLDERS
            if f"`{{{name}}}`" not in PAGE} == set()


@pytest.mark.parametrize(
    ("change", "expected"), ERROR_EXAMPLES,
    ids=[f"line{change.line}" for change, _ in ERROR_EXAMPLES])
def test_error_example_reports_the_documented_problems(tmp_path, change, expected):
    files = dict(EXAMPLES)
    files.setdefault(change.title, "")
    apply_diff(files, change.title, change.body)

    assert "\n".join(problems_for(tmp_path, files)) == expected.body.rstrip("\n")


@pytest.mark.parametrize(
    ("change", "expected"), COMMAND_EXAMPLES,
    ids=[f"line{change.line}" for change, _ in COMMAND_EXAMPLES])
def test_broken_files_stop_the_flask_command_as_documented(tmp_path, change, expected):
    files = dict(EXAMPLES)
    apply_diff(files, change.title, change.body)
    write_files(tmp_path, files)
    command = expected.title.removeprefix("$ ").split("  (")[0].split()

    result = run_flask(tmp_path, command[1:])

    assert result.returncode == 1  # the page: "ends with exit status 1"
    assert result.stdout == ""
    assert "\n".join(line.rstrip() for line in result.stderr.strip("\n").splitlines()) == (
        expected.body.rstrip("\n"))


def run_flask(root: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a real `flask` command (app from wsgi.py) on the definition files under root."""
    env = {**os.environ, "FLASK_APP": str(ROOT / "wsgi.py"), "SECRET_KEY": "test-secret",
           "PINGSHEN_WORKFLOWS": str(root / "workflows"), "PINGSHEN_FORMS": str(root / "forms"),
           "PINGSHEN_INSTANCE": str(root / "instance"),
           "DATABASE_URL": f"sqlite:///{root / 'pingshen.db'}"}
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=root, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)


@pytest.mark.parametrize(("sent", "stored"), SENT_EXAMPLES,
                         ids=[sent.title for sent, _ in SENT_EXAMPLES])
def test_documented_values_are_stored_as_documented(sent, stored):
    form = example_form(sent.title.removeprefix("sent to "))

    data, errors = clean_data(form, json.loads(sent.body))

    assert errors == {}
    assert data == json.loads(stored.body)


def test_documented_refused_values_give_the_documented_messages():
    form = example_form("forms/field_type_examples.yaml")
    rows = table_after("value-errors: forms/field_type_examples.yaml")
    assert len(rows) >= 15

    for key, value, message in rows:
        _, errors = clean_data(form, {key: json.loads(value)})
        assert errors == {key: message}, (key, value)


def test_documented_missing_fields_at_submission():
    form = example_form("forms/field_type_examples.yaml")
    rows = table_after("required-errors: forms/field_type_examples.yaml")

    assert missing_required(form, {}, {}) == dict(rows)


@pytest.fixture
def example_app(tmp_path: Path) -> Iterator[Flask]:
    """An app whose definition folders hold only the page's example files."""
    write_files(tmp_path / "definitions", EXAMPLES)
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'docs.db'}",
        "WORKFLOWS_DIR": str(tmp_path / "definitions" / "workflows"),
        "FORMS_DIR": str(tmp_path / "definitions" / "forms"),
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "CERTIFICATE_FOLDER": str(tmp_path / "certificates"),
        "SECRET_KEY": "test-secret",
    })
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def test_commands_print_what_the_page_shows(example_app):
    assert command_output(example_app, "workflows", "check") == output_block(
        "$ flask workflows check")
    assert command_output(example_app, "workflows", "show", "learning_star") == output_block(
        "$ flask workflows show learning_star")


def test_a_changed_form_without_a_new_version_is_refused_as_documented(example_app):
    world = _example_world()
    db.session.commit()
    assert command_output(example_app, "workflows", "sync") == "recorded learning_star v1"
    folder = Path(example_app.config["FORMS_DIR"])
    form = folder / "learning_star_nomination.yaml"
    edit_file(example_app, form, "key: nominee\n", "key: nominee   # 被推荐人\n")
    assert command_output(example_app, "workflows", "check") == output_block(
        "$ flask workflows check")  # comments do not count as changes

    edit_file(example_app, form, "label: 生活照", "label: 近照")

    expected = output_block("$ flask workflows check  (a form changed, version not raised)")
    assert command_output(example_app, "workflows", "check", stream="stderr") == expected
    assert command_output(example_app, "workflows", "sync", stream="stderr") == output_block(
        "$ flask workflows sync  (a form changed, version not raised)")
    users, now = world["users"], utcnow()
    with pytest.raises(DefinitionChanged) as opening:
        open_call("learning_star", "2027年度百姓学习之星推荐", 2027, now, now + timedelta(days=30),
                  {"WJ": 1}, users["city"])
    with pytest.raises(DefinitionChanged) as creating:
        create_application(world["call"], users["applicant"])
    for refused in (opening.value, creating.value):
        assert refused.status == 409 and refused.message == expected.splitlines()[0]
        assert f'"error": "{refused.code}"' in PAGE
        assert f'"details": {json.dumps(refused.details, ensure_ascii=False)}' in PAGE


def edit_file(app: Flask, path: Path, old: str, new: str) -> None:
    """Change a definition file and reload the app's catalogue, as a restart would."""
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    app.extensions[CATALOGUE] = load_catalogue(app.config["WORKFLOWS_DIR"],
                                               app.config["FORMS_DIR"])


def _example_world() -> dict[str, Any]:
    """A city, one district with a unit, one user per role and two experts, an open call."""
    add_organisation("X", "X市", "city", None)
    add_organisation("X-OU", "X市开放大学", "unit", "X")
    add_organisation("WJ", "武进区", "district", "X")
    add_organisation("WJ-HT", "湖塘镇", "street", "WJ")
    add_organisation("WJ-HT-C", "湖塘镇社区教育中心", "unit", "WJ-HT")
    password = "correct-horse-1"
    users = {
        "applicant": add_user("hutang", "applicant", "WJ-HT-C", password),
        "district": add_user("wj_admin", "district_admin", "WJ", password),
        "city": add_user("city", "city_admin", "X", password),
        "expert1": add_user("expert1", "expert", "X-OU", password),
        "expert2": add_user("expert2", "expert", "X-OU", password),
    }
    now = utcnow()
    call = open_call("learning_star", "2026年度百姓学习之星推荐", 2026, now - timedelta(days=1),
                     now + timedelta(days=30), {"WJ": 1}, users["city"])
    return {"users": users, "call": call}


def test_the_example_programme_runs_as_the_page_describes(example_app):
    world = _example_world()
    users = world["users"]
    sent = next(sent for sent, _ in SENT_EXAMPLES
                if sent.title == "sent to forms/learning_star_nomination.yaml")
    entry = create_application(world["call"], users["applicant"], json.loads(sent.body))
    assert entry.state == "draft" and entry.title == "李秀兰"

    with pytest.raises(ValidationFailed) as refused:  # submit has `comment: none`
        fire(entry, "submit", users["applicant"], comment="请审核")
    assert refused.value.status == 422 and f"`{refused.value.message}`" in PAGE
    assert entry.submitted_at is None

    fire(entry, "submit", users["applicant"])
    assert entry.submitted_at is not None  # districts see it from now on
    withdrawn = create_application(world["call"], users["applicant"])
    fire(withdrawn, "withdraw", users["applicant"])
    assert withdrawn.submitted_at is None  # ended straight from the draft: never submitted
    fire(entry, "recommend", users["district"], data={"rank": 1, "opinion": "事迹突出，同意推荐。"})
    for expert in ("expert1", "expert2"):
        sheet = confirmed(assign_expert(entry, users[expert], users["city"]))
        save_review(sheet, users[expert], {"persistence": 18, "achievements": 17.5,
                                           "helping_others": 20, "community_service": 12,
                                           "materials": 16}, "", submit=True)
    fire(entry, "confer", users["city"])

    assert entry.state == "named"
    assert entry_scores(entry).final == Decimal("83.50")
    certificate = db.session.scalar(select(Certificate))
    assert certificate.holder == "李秀兰"
    assert certificate.award == "百姓学习之星"
    assert f"`{certificate.serial}`" in PAGE  # the serial shown in §2.3
