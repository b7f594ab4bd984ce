"""How the app talks to its database: transactions stay all or nothing on both engines."""

from __future__ import annotations

from sqlalchemy import text

from app.extensions import db
from app.services.accounts import add_organisation


def test_a_savepoint_first_in_a_transaction_is_undone_with_it(app):
    """SQLite's driver opens a transaction only before INSERT, UPDATE or DELETE; a SAVEPOINT
    sent first used to open one of its own, which its RELEASE committed at once. Now the
    request's rollback takes back what was written inside the savepoint too."""
    with db.session.begin_nested():
        add_organisation("TMP", "临时单位", "city", None)
    db.session.rollback()
    with db.engine.connect() as fresh:
        assert fresh.execute(text("SELECT count(*) FROM organisations WHERE code = 'TMP'")
                             ).scalar() == 0


def test_a_savepoint_rolled_back_keeps_the_rest_of_the_transaction(app):
    """A lost race inside a savepoint undoes that part only; the rest commits."""
    add_organisation("KEPT", "保留单位", "city", None)
    try:
        with db.session.begin_nested():
            add_organisation("GONE", "撤销单位", "city", None)
            raise RuntimeError("lost the race")
    except RuntimeError:
        pass
    db.session.commit()
    with db.engine.connect() as fresh:
        codes = fresh.execute(text("SELECT code FROM organisations ORDER BY code")).scalars()
        assert list(codes) == ["KEPT"]
