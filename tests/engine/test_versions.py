"""Versioning: applications stay pinned; a changed file needs a new version number."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from app.engine.definitions import Programme
from app.engine.errors import DefinitionChanged
from app.engine.runtime import fire
from app.extensions import db
from app.models import ProgrammeVersion
from app.services.programmes import CATALOGUE, programme_of, record_version


def _changed(programme: Programme, version: int) -> Programme:
    """A copy of the programme with a relabelled state and the given version number."""
    bundle = copy.deepcopy(programme.bundle)
    bundle["workflow"]["version"] = version
    bundle["workflow"]["states"][1]["label"] = "区级审核（新）"
    return Programme(bundle, programme.source_files)


def test_definition_is_stored_once_per_version(app, world, make_application):
    make_application("wj1")
    make_application("wj2", name="第二队")
    stored = db.session.scalar(select(func.count()).select_from(ProgrammeVersion))
    assert stored == 1
    row = db.session.scalar(select(ProgrammeVersion))
    assert row.definition["workflow"]["key"] == "excellent_team"
    assert "workflows/excellent_team.yaml" in row.sources


def test_changed_file_with_same_version_is_refused(app, world):
    current = app.extensions[CATALOGUE]["excellent_team"]
    changed = _changed(current, current.version)
    changed.source_files["workflows/excellent_team.yaml"] += "# edited\n"
    with pytest.raises(DefinitionChanged) as caught:
        record_version(changed)
    assert caught.value.status == 409
    assert caught.value.message.startswith("workflows/excellent_team.yaml: version 1 of")
    assert "raise 'version'" in caught.value.message


def test_application_in_flight_keeps_its_version(app, world, make_application):
    users = world["users"]
    old = make_application("wj1")
    current = app.extensions[CATALOGUE]["excellent_team"]
    app.extensions[CATALOGUE]["excellent_team"] = _changed(current, current.version + 1)
    new = make_application("wj2", name="新版本的队")

    assert programme_of(old).version == 1
    assert programme_of(new).version == 2
    assert programme_of(old).label("district_review") == "区级初审"
    assert programme_of(new).label("district_review") == "区级审核（新）"
    entry = fire(old, "submit", users["wj1"])
    assert entry.definition_version == 1
