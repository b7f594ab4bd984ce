"""A PostgreSQL database for each pytest-xdist worker, so that parallel tests never share one.

Every test on PostgreSQL drops and recreates the public schema of TEST_DATABASE_URL's database;
two workers on the same database would drop each other's tables. Under xdist (PYTEST_XDIST_WORKER
is gw0, gw1, ...) each worker uses ``<name>_gw0``, ``<name>_gw1``, ... beside the database the URL
names, created on first use and kept for the next run. tests/conftest.py puts the worker's URL in
the environment before anything reads it, so the fixtures, the tests that read TEST_DATABASE_URL
themselves and every process a test starts all see the worker's database.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def worker_environment() -> dict[str, str]:
    """TEST_DATABASE_URL for this xdist worker's own database, created if missing; nothing
    outside xdist or without TEST_DATABASE_URL (SQLite needs nothing: a file per test)."""
    worker, url = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get("TEST_DATABASE_URL")
    if not worker or not url:
        return {}
    given = make_url(url)
    if given.get_backend_name() != "postgresql" or not given.database:
        raise RuntimeError(f"parallel tests (pytest -n) need TEST_DATABASE_URL to name a "
                           f"PostgreSQL database, not {given.render_as_string()}")
    own = given.set(database=f"{given.database}_{worker}")
    _create_if_missing(url, own.database or "")
    return {"TEST_DATABASE_URL": own.render_as_string(hide_password=False)}


def _create_if_missing(url: str, name: str) -> None:
    """CREATE DATABASE ``name`` through a connection to the given database (outside a
    transaction, as CREATE DATABASE must run), unless it exists."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                       {"name": name})
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote_identifier(name)
                connection.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        engine.dispose()
