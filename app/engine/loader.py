"""Load every definition file, validate it strictly, and bundle each workflow with its forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from app.engine import actions, guards  # noqa: F401  (fill the registries first)
from app.engine.checker import Checker
from app.engine.definitions import Programme
from app.engine.errors import DefinitionError
from app.engine.forms_schema import check_form, check_rubric
from app.engine.machines import build_machine
from app.engine.workflow_schema import check_workflow


def load_catalogue(workflows_dir: str | Path, forms_dir: str | Path) -> dict[str, Programme]:
    """Return the programmes the files define, or raise DefinitionError listing every problem."""
    problems: list[str] = []
    forms: dict[str, dict[str, Any]] = {}
    rubrics: dict[str, dict[str, Any]] = {}
    sources: dict[str, tuple[str, str]] = {}
    for path, doc, text in _read_dir(Path(forms_dir), problems):
        check = Checker(_name(path), problems)
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind == "form":
            normal, target = check_form(doc, check), forms
        elif kind == "rubric":
            normal, target = check_rubric(doc, check), rubrics
        else:
            check.error("kind", f"must be 'form' or 'rubric', got {kind!r}")
            continue
        if normal is None:
            continue
        if normal["key"] in forms or normal["key"] in rubrics:
            check.error("key", f"{normal['key']!r} is already defined by another file in forms/")
            continue
        target[normal["key"]] = normal
        sources[f"{kind}:{normal['key']}"] = (_name(path), text)
    catalogue: dict[str, Programme] = {}
    for path, doc, text in _read_dir(Path(workflows_dir), problems):
        check = Checker(_name(path), problems)
        workflow = check_workflow(doc, check, forms, rubrics)
        if workflow is None:
            continue
        if workflow["key"] in catalogue:
            check.error("key", f"programme {workflow['key']!r} is already defined by another file")
            continue
        programme = _bundle(workflow, forms, rubrics, sources, _name(path), text)
        try:
            build_machine(programme)
        except (ValueError, TypeError) as exc:  # the library's own check, as a last line
            check.error("transitions", f"rejected by the state machine: {exc}")
            continue
        catalogue[programme.key] = programme
    if problems:
        raise DefinitionError(problems)
    return catalogue


def _bundle(workflow: dict[str, Any], forms: dict[str, Any], rubrics: dict[str, Any],
            sources: dict[str, tuple[str, str]], filename: str, text: str) -> Programme:
    """Collect the forms and rubrics a workflow uses into one versioned bundle."""
    form_keys = {workflow["form"]} | {t["form"] for t in workflow["transitions"] if t["form"]}
    rubric_keys = {s["review"] for s in workflow["states"] if s["review"]}
    bundle = {
        "workflow": workflow,
        "forms": {key: forms[key] for key in sorted(form_keys)},
        "rubrics": {key: rubrics[key] for key in sorted(rubric_keys)},
    }
    files = {filename: text}
    files.update(sources[f"form:{k}"] for k in sorted(form_keys))
    files.update(sources[f"rubric:{k}"] for k in sorted(rubric_keys))
    return Programme(bundle, files)


def _read_dir(folder: Path, problems: list[str]):  # type: ignore[no-untyped-def]
    """Yield (path, parsed document, text) for each YAML file; parse errors become problems."""
    if not folder.is_dir():
        problems.append(f"{folder}: folder not found")
        return
    for path in sorted(folder.glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            problems.append(f"{_name(path)}: not valid YAML: {exc}")
            continue
        yield path, doc, text


def _name(path: Path) -> str:
    """Show a file as folder/name, as a bureau administrator sees it."""
    return f"{path.parent.name}/{path.name}"
