"""The schema comes from migrations: upgrading from empty matches the models exactly."""

from __future__ import annotations

import os

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


def test_the_last_migrations_step_down_and_up_again_with_data(tmp_path):
    """With the demo's data in place, undo the last six migrations one by one and redo them:
    the rows of every table the oldest of them already had are all still there."""
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
        db.session.remove()  # its reads hold locks the migrations would wait for
        for _ in range(6):
            downgrade(revision="-1")
        kept = set(inspect(db.engine).get_table_names())
        upgrade()
        after = row_counts()
        assert {t: after[t] for t in kept} == {t: before[t] for t in kept}
        assert before["applications"] > 0 and before["audit_entries"] > 0
        db.session.remove()
        db.engine.dispose()
