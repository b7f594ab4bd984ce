"""The schema comes from migrations: upgrading from empty matches the models exactly."""

from __future__ import annotations

import os
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from app.services.backup import row_counts
from app.services.demo import load_demo


def test_upgrade_from_empty_matches_models_and_downgrades(tmp_path):
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'migrated.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == []
        assert "applications" in inspect(db.engine).get_table_names()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_every_migration_steps_down_with_data_and_the_last_ones_up_again(tmp_path):
    """With the demo's data in place: undo the last six migrations and redo them, then undo
    every migration one by one down to an empty database. After each step, every table still
    there has all the rows it had: a downgrade drops only what its upgrade added."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'migrated.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True,
                      "UPLOAD_FOLDER": str(tmp_path / "uploads"),
                      "CERTIFICATE_FOLDER": str(tmp_path / "certificates"),
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        load_demo()
        db.session.commit()
        before = row_counts()
        assert before["applications"] > 0 and before["audit_entries"] > 0
        db.session.remove()  # its reads hold locks the migrations would wait for
        for _ in range(6):
            downgrade(revision="-1")
        kept = _tables()
        upgrade()
        after = row_counts()
        assert {t: after[t] for t in kept} == {t: before[t] for t in kept}
        db.session.remove()

        before = after  # the tables the six had added came back empty

        steps = 0
        while tables := _tables():
            downgrade(revision="-1")
            steps += 1
            remaining = _tables()
            assert remaining <= tables
            counts = {t: db.session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                      for t in remaining}
            db.session.remove()
            assert counts == {t: before[t] for t in remaining}, f"step {steps}"
        assert steps == len(list(Path(__file__).parent.parent.glob("migrations/versions/0*.py")))
        db.engine.dispose()


def _tables() -> set[str]:
    """The application's tables now in the database."""
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}
