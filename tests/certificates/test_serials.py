"""Serial numbers under concurrent issuing: every thread gets its own number, none is skipped."""

from __future__ import annotations

import threading

from sqlalchemy import select

from app.extensions import db
from app.models import SerialCounter
from app.services.certificates import next_serial

THREADS = 8


def test_concurrent_issuers_get_unique_gap_free_serials(app):
    barrier = threading.Barrier(THREADS)
    taken: list[int] = []
    errors: list[BaseException] = []

    def issuer() -> None:
        with app.app_context():
            try:
                barrier.wait()
                taken.append(next_serial("excellent_team", 2026))
                db.session.commit()
            except BaseException as exc:  # noqa: BLE001  (reported below, not swallowed)
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=issuer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(taken) == list(range(1, THREADS + 1))
    assert db.session.scalar(select(SerialCounter.last)) == THREADS
    assert next_serial("excellent_team", 2027) == 1  # each year starts again
