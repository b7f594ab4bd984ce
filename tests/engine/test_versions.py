"""Versioning: applications stay pinned; a changed file needs a new version number."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.engine.definitions import Programme
from app.engine.errors import DefinitionChanged
from app.engine.loader import rebuild_programme
from app.engine.runtime import fire
from app.extensions import db
from app.models import ProgrammeVersion
from app.services.programmes import CATALOGUE, programme_of, record_version


def _changed(programme: Programme, version: int) -> Programme:
    """The programme as if its file were edited: a relabelled state, the given version."""
    sources = dict(programme.source_files)
    name = "workflows/excellent_team.yaml"
    text = re.sub(r"(?m)^version: \d+$", f"version: {version}", sources[name])
    sources[name] = text.replace("label: 区级初审", "label: 区级审核（新）")
    return rebuild_programme(sources)


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
    with pytest.raises(DefinitionChanged) as caught:
        record_version(changed)
    assert caught.value.status == 409
    assert caught.value.message.startswith(
        f"workflows/excellent_team.yaml: version {current.version} of")
    assert "raise 'version'" in caught.value.message


def test_application_in_flight_keeps_its_version(app, world, make_application):
    users = world["users"]
    old = make_application("wj1")
    current = app.extensions[CATALOGUE]["excellent_team"]
    app.extensions[CATALOGUE]["excellent_team"] = _changed(current, current.version + 1)
    new = make_application("wj2", name="新版本的队")

    assert programme_of(new).version == programme_of(old).version + 1
    assert programme_of(old).label("district_review") == "区级初审"
    assert programme_of(new).label("district_review") == "区级审核（新）"
    entry = fire(old, "submit", users["wj1"])
    assert entry.definition_version == current.version


def test_comments_and_layout_do_not_count_as_a_change(app, world):
    current = app.extensions[CATALOGUE]["excellent_team"]
    record_version(current)
    sources = dict(current.source_files)
    name = "forms/excellent_team_application.yaml"
    relaid = sources[name].replace("required: true", "required:   true")
    sources[name] = "# 说明：仅增加注释\n" + relaid
    assert rebuild_programme(sources).checksum == current.checksum
    record_version(rebuild_programme(sources))  # accepted: same content


def test_stored_version_is_rebuilt_from_its_own_files(app, world, make_application):
    entry = make_application("wj1")
    row = db.session.scalar(select(ProgrammeVersion))
    app.extensions.pop("pingshen.pinned", None)
    assert programme_of(entry).checksum == row.checksum
    assert set(row.sources) == {"workflows/excellent_team.yaml",
                                "forms/excellent_team_application.yaml",
                                "forms/district_recommendation.yaml",
                                "forms/excellent_team_rubric.yaml"}
