"""Load every definition file, validate it strictly, and bundle each workflow with its forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from app.engine import actions, eligibility, guards  # noqa: F401  (fill the registries)
from app.engine.checker import Checker
from app.engine.definitions import Programme
from app.engine.errors import DefinitionError
from app.engine.forms_schema import check_form
from app.engine.machines import build_machine
from app.engine.rubric_schema import check_rubric
from app.engine.workflow_schema import check_workflow

Document = tuple[str, Any, str]  # (shown file name, parsed YAML, text)


def load_catalogue(workflows_dir: str | Path, forms_dir: str | Path) -> dict[str, Programme]:
    """Return the programmes the files define, or raise DefinitionError listing every problem."""
    problems: list[str] = []
    form_docs = list(_read_dir(Path(forms_dir), problems))
    workflow_docs = list(_read_dir(Path(workflows_dir), problems))
    return build_catalogue(form_docs, workflow_docs, problems)


def rebuild_programme(sources: dict[str, str]) -> Programme:
    """Rebuild a stored version from the file texts it was recorded with.

    Stored versions keep their YAML, not the engine's normalised form, so defaults the
    engine adds later apply to old versions too and never change their checksum.
    """
    problems: list[str] = []
    docs = [(name, _parse(name, text, problems), text) for name, text in sources.items()]
    workflows = [d for d in docs if d[0].startswith("workflows/")]
    forms = [d for d in docs if not d[0].startswith("workflows/")]
    catalogue = build_catalogue(forms, workflows, problems)
    if len(catalogue) != 1:
        raise DefinitionError(problems or ["a stored version must hold exactly one workflow"])
    return next(iter(catalogue.values()))


def build_catalogue(form_docs: list[Document], workflow_docs: list[Document],
                    problems: list[str] | None = None) -> dict[str, Programme]:
    """Validate parsed documents and bundle each workflow with the forms and rubrics it uses."""
    problems = [] if problems is None else problems
    forms: dict[str, dict[str, Any]] = {}
    rubrics: dict[str, dict[str, Any]] = {}
    sources: dict[str, Document] = {}
    for name, doc, text in form_docs:
        if doc is None and text.strip() == "":
            doc = {}
        check = Checker(name, problems)
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
        sources[f"{kind}:{normal['key']}"] = (name, doc, text)
    catalogue: dict[str, Programme] = {}
    for name, doc, text in workflow_docs:
        check = Checker(name, problems)
        workflow = check_workflow(doc, check, forms, rubrics)
        if workflow is None:
            continue
        if workflow["key"] in catalogue:
            check.error("key", f"programme {workflow['key']!r} is already defined by another file")
            continue
        programme = _bundle(workflow, forms, rubrics, sources, (name, doc, text))
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
            sources: dict[str, Document], workflow_doc: Document) -> Programme:
    """Collect the forms and rubrics a workflow uses into one versioned bundle."""
    form_keys = sorted({workflow["form"]} | {t["form"] for t in workflow["transitions"]
                                             if t["form"]})
    rubric_keys = sorted({s["review"]["rubric"] for s in workflow["states"] if s["review"]})
    bundle = {
        "workflow": workflow,
        "forms": {key: forms[key] for key in form_keys},
        "rubrics": {key: rubrics[key] for key in rubric_keys},
    }
    used = [sources[f"form:{k}"] for k in form_keys] + [sources[f"rubric:{k}"] for k in rubric_keys]
    raw = {  # what the checksum covers: the documents as written, not the engine's defaults
        "workflow": workflow_doc[1],
        "forms": {k: sources[f"form:{k}"][1] for k in form_keys},
        "rubrics": {k: sources[f"rubric:{k}"][1] for k in rubric_keys},
    }
    files = {name: text for name, _doc, text in [workflow_doc, *used]}
    return Programme(bundle, files, raw)


def _read_dir(folder: Path, problems: list[str]):  # type: ignore[no-untyped-def]
    """Yield (name, parsed document, text) for each YAML file; parse errors become problems."""
    if not folder.is_dir():
        problems.append(f"{folder}: folder not found")
        return
    for path in sorted(folder.glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        doc = _parse(_name(path), text, problems)
        if doc is not _INVALID:
            yield _name(path), doc, text


_INVALID = object()
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _parse(name: str, text: str, problems: list[str]) -> Any:
    """Parse YAML safely; a syntax error becomes a problem naming the file.

    The C parser (libyaml, in PyYAML's wheels) is ten times faster and reads the same; the
    pure-Python one is used for the error message, whose wording the documentation shows.
    """
    try:
        return yaml.load(text, Loader=FAST_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return _parse_for_message(name, text, problems)


def _parse_for_message(name: str, text: str, problems: list[str]) -> Any:
    """Parse again with the pure-Python parser, for the documented wording of the error."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.append(f"{name}: not valid YAML: {exc}")
        return _INVALID


def _name(path: Path) -> str:
    """Show a file as folder/name, as a bureau administrator sees it."""
    return f"{path.parent.name}/{path.name}"
