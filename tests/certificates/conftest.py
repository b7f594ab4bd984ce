"""Fixtures of the certificate tests."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Application


@pytest.fixture
def awarded(world, make_application):
    """Six named teams without certificates, as a call imported with its outcomes would be
    (or a programme whose bureau issues the certificates by hand, all at once)."""

    def make(count: int = 6) -> list[Application]:
        entries = []
        for n in range(count):
            entry = make_application(f"{'wj' if n % 2 else 'tn'}{n % 3 + 1}",
                                     name=f"第{n + 1}支优秀团队")
            entry.state = "named"  # set-up only: the outcome of a past call
            entries.append(entry)
        db.session.commit()
        return entries

    return make
