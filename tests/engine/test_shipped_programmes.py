"""The shipped programmes: their reference pages are up to date, and the validator refuses a
corrupted copy of each with a message that names the file and the place."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.engine.diagram import workflow_svg
from app.engine.errors import DefinitionError
from app.engine.loader import build_catalogue
from app.engine.programme_doc import index_markdown, programme_markdown
from app.i18n import role_label

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "docs" / "programmes"


def _documents(folder: str) -> list[tuple[str, Any, str]]:
    """(name, parsed, text) for each YAML file of a folder, as the loader reads them."""
    return [(f"{folder}/{path.name}", yaml.safe_load(path.read_text(encoding="utf-8")),
             path.read_text(encoding="utf-8")) for path in sorted((ROOT / folder).glob("*.yaml"))]


FORMS = _documents("forms")
WORKFLOWS = _documents("workflows")
KEYS = sorted(doc["key"] for _name, doc, _text in WORKFLOWS)


def _catalogue() -> dict[str, Any]:
    return build_catalogue(FORMS, WORKFLOWS)


def test_every_programme_has_its_page_and_diagram_as_generated(app):
    catalogue = _catalogue()
    assert sorted(catalogue) == KEYS and len(KEYS) == 10
    for key, programme in catalogue.items():
        page = (PAGES / f"{key}.md").read_text(encoding="utf-8")
        assert page == programme_markdown(programme), f"run: flask workflows docs ({key})"
        assert (PAGES / f"{key}.svg").read_text(encoding="utf-8") == workflow_svg(
            programme.workflow, role_label=role_label)
    assert (PAGES / "README.md").read_text(encoding="utf-8") == index_markdown(
        list(catalogue.values()))


def _corrupted(key: str, change: Any) -> list[str]:
    """The problems the validator reports for the catalogue with one workflow changed."""
    changed = []
    for name, doc, text in WORKFLOWS:
        if doc["key"] == key:
            doc = copy.deepcopy(doc)
            change(doc)
        changed.append((name, doc, text))
    with pytest.raises(DefinitionError) as refused:
        build_catalogue(FORMS, changed)
    return refused.value.problems


@pytest.mark.parametrize("key", KEYS)
def test_a_corrupted_copy_of_each_programme_is_refused_clearly(key):
    name = f"workflows/{key}.yaml"

    def unknown_dest(doc: dict[str, Any]) -> None:
        doc["transitions"][1]["dest"] = "nowhere"

    assert f"{name}: transitions[1].dest: unknown state 'nowhere'" in _corrupted(key, unknown_dest)

    def final_without_outcome(doc: dict[str, Any]) -> None:
        final = next(i for i, s in enumerate(doc["states"]) if s.get("final"))
        del doc["states"][final]["outcome"]
        doc["__final"] = final

    problems = _corrupted(key, lambda doc: final_without_outcome(doc) or doc.pop("__final"))
    assert any(p.startswith(f"{name}: states[") and p.endswith(".outcome: is required for a "
                                                               "final state") for p in problems)

    def misspelt_guard(doc: dict[str, Any]) -> None:
        doc["transitions"][0]["guards"] = ["form_complet"]

    [problem] = _corrupted(key, misspelt_guard)
    assert problem.startswith(f"{name}: transitions[0].guards[0]: unknown name 'form_complet'")

    def dropped_state(doc: dict[str, Any]) -> None:
        target = doc["transitions"][0]["dest"]
        doc["states"] = [s for s in doc["states"] if s["name"] != target]

    assert any("unknown state" in p and p.startswith(name) for p in _corrupted(key, dropped_state))
