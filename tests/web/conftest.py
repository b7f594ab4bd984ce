"""Fixtures for the HTML pages: a browser per user, and entries moved along by the services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from app.engine.runtime import fire
from app.extensions import db
from app.models import Application
from app.services.reviews import assign_expert, save_review
from tests.conftest import confirmed
from tests.web.browser import Browser

SCORES = {"organisation": 18, "resources": 12, "activities": 30, "impact": 25}


@pytest.fixture
def browser(app: Flask) -> Callable[[str | None], Browser]:
    """Open a browser logged in as a user (None: anonymous)."""
    return lambda username=None: Browser(app, username)


@pytest.fixture
def advance(world: dict[str, Any]) -> Callable[..., Application]:
    """Move an entry through the services: submitted, recommended, reviewed (and committed)."""
    users = world["users"]

    def run(application: Application, to: str, *, rank: int = 1, experts: tuple[str, ...] = (),
            submit_sheets: bool = True) -> Application:
        """Submit; recommend for review states; assign (and let score) the experts."""
        district_admin = "wj_admin" if application.district.code == "WJ" else "tn_admin"
        fire(application, "submit", application.applicant)
        if to == "city_review":
            fire(application, "recommend", users[district_admin],
                 data={"rank": rank, "opinion": "推荐"})
        for expert in experts:
            sheet = confirmed(assign_expert(application, users[expert], users["city"]))
            if submit_sheets:
                save_review(sheet, users[expert], SCORES, "好", submit=True)
        db.session.commit()
        return application

    return run


def reload(model: type, id_: int) -> Any:
    """Read a row as stored now (the requests ran in their own sessions)."""
    db.session.rollback()
    return db.session.get(model, id_)
