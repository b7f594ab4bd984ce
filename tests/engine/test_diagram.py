"""Workflow diagrams: every state and step drawn with who takes it, the entry's state marked,
well-formed SVG with nothing loaded from outside; on the CLI, the programme page and the entry."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from app.engine.diagram import workflow_svg
from app.i18n import role_label
from app.services.programmes import catalogue
from tests.conftest import login

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("key", ["excellent_team", "teacher_contest"])
def test_every_state_and_step_is_drawn_and_the_current_state_marked(app, key):
    workflow = catalogue()[key].workflow
    current = workflow["states"][2]["name"]
    svg = workflow_svg(workflow, current=current, role_label=role_label)
    root = ET.fromstring(svg)  # well-formed
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    for state in workflow["states"]:
        assert state["label"] in texts
    for transition in workflow["transitions"]:
        assert transition["label"] in texts
    assert "市级管理员" in texts and "申报人" in texts
    marked = [g.get("data-state") for g in root.iter(f"{SVG}g")
              if "current" in (g.get("class") or "").split()]
    assert marked == [current]
    arrows = [g for g in root.iter(f"{SVG}g") if "edge" in (g.get("class") or "")]
    assert len(arrows) == sum(len(t["source"]) for t in workflow["transitions"])
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]


def test_names_and_labels_are_escaped(app):
    workflow = catalogue()["excellent_team"].workflow
    svg = workflow_svg(workflow, label=lambda item: f"<b>{item['label']}</b>&")
    ET.fromstring(svg)
    assert "<b>" not in svg and "&lt;b&gt;" in svg


def test_the_cli_writes_the_diagram(app, tmp_path):
    target = tmp_path / "team.svg"
    result = CliRunner().invoke(app.cli, ["workflows", "show", "excellent_team",
                                          "--svg", str(target)])
    assert result.exit_code == 0, result.output
    assert f"diagram written to {target}" in result.output
    root = ET.fromstring(target.read_text(encoding="utf-8"))
    assert "公示中" in "".join(root.itertext())


def test_the_programme_page_and_the_entry_page_show_the_diagram(app, world, make_application,
                                                                client):
    entry = make_application("wj1")
    login(client, "city")
    page = client.get("/admin/programmes/excellent_team").get_data(as_text=True)
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram"' in page
    assert "公示无异议，命名" in page
    applicant = app.test_client()
    login(applicant, "wj1")
    own = applicant.get(f"/applications/{entry.id}").get_data(as_text=True)
    assert "整个流程（流程图）" in own
    assert re.search(r'class="state initial current" data-state="draft"', own)
