"""Helpers of the reliability tests: real failures made by the database itself, and reads of
what is committed through a connection of their own (never the app's session)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import create_engine, event, text

from app.extensions import db

INJECTED = "injected failure"
KINDS = ("disk_full", "constraint")  # an OperationalError, or an IntegrityError


def committed(app: Flask, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` as another process would read them: a new engine, a new connection."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def count(app: Flask, table: str, where: str = "1=1", **params: Any) -> int:
    """How many committed rows of ``table`` match ``where``."""
    return int(committed(app, f"SELECT count(*) FROM {table} WHERE {where}", **params)[0][0])


def _raise_disk_full(*_args: Any) -> None:
    """The SQLite function the injected trigger calls: the statement fails as on a full disk."""
    raise OSError(28, "No space left on device (injected failure)")


class Failures:
    """Triggers that make the database refuse chosen rows, as a full disk or a violated
    constraint would: the failure happens in the real statement, inside the real transaction.

    ``kind`` "disk_full" raises an OperationalError (PostgreSQL: SQLSTATE 53100 disk_full;
    SQLite: a function of the trigger fails), "constraint" an IntegrityError (SQLite's
    RAISE(ABORT); PostgreSQL: SQLSTATE 23000).
    """

    def __init__(self, app: Flask, kind: str = "disk_full") -> None:
        assert kind in KINDS
        self.app, self.kind, self.names = app, kind, []
        self.postgres = db.engine.dialect.name == "postgresql"
        if self.postgres:
            code = "disk_full" if kind == "disk_full" else "integrity_constraint_violation"
            self._execute(
                "CREATE OR REPLACE FUNCTION pingshen_injected() RETURNS trigger AS $$ BEGIN "
                f"RAISE EXCEPTION '{INJECTED}' USING ERRCODE = '{code}'; END $$ "
                "LANGUAGE plpgsql")
        else:
            # every connection of the pool needs the function: new ones get it on connect
            event.listen(db.engine, "connect", self._register)
            db.session.commit()  # give the connection back to the pool, then close them all
            db.engine.dispose()

    @staticmethod
    def _register(connection: Any, _record: Any) -> None:
        connection.create_function("pingshen_injected", 0, _raise_disk_full)

    def refuse(self, table: str, when: str, on: str = "INSERT") -> None:
        """Make every ``on`` (INSERT or UPDATE) of a ``table`` row matching ``when`` (in terms
        of ``NEW.column``) fail."""
        name = f"injected_{len(self.names) + 1}"
        if self.postgres:
            self._execute(f"CREATE TRIGGER {name} BEFORE {on} ON {table} FOR EACH ROW "
                          f"WHEN ({when}) EXECUTE FUNCTION pingshen_injected()")
        else:
            body = ("SELECT pingshen_injected();" if self.kind == "disk_full"
                    else f"SELECT RAISE(ABORT, '{INJECTED}');")
            self._execute(f"CREATE TRIGGER {name} BEFORE {on} ON {table} FOR EACH ROW "
                          f"WHEN {when} BEGIN {body} END")
        self.names.append((name, table))

    def lift(self) -> None:
        """The disk has room again: drop every injected trigger."""
        for name, table in self.names:
            self._execute(f"DROP TRIGGER {name} ON {table}" if self.postgres
                          else f"DROP TRIGGER {name}")
        self.names = []

    def _execute(self, sql: str) -> None:
        """Run DDL in a transaction of its own."""
        db.session.rollback()
        db.session.execute(text(sql))
        db.session.commit()


def position(items: list[Any], where: str) -> Any:
    """The first, middle or last of ``items``."""
    return items[{"first": 0, "middle": len(items) // 2, "last": -1}[where]]

