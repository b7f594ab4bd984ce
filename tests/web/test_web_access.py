"""Who may open what: roles on the list pages, and object-level refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Application, Attachment, ReviewAssignment
from tests.web.conftest import reload

ROLE_PAGES = {
    "/my/": "wj1", "/district/": "wj_admin", "/admin/": "city", "/admin/calls/new": "city",
    "/admin/programmes": "city", "/admin/programmes/excellent_team": "city",
    "/reviews/": "expert1",
}


@pytest.mark.parametrize("url", sorted(ROLE_PAGES))
@pytest.mark.parametrize("username", [None, "wj1", "wj_admin", "city", "expert1"])
def test_list_pages_open_only_for_their_role(world, browser, url, username):
    response = browser(username).get(url).response
    if username is None:
        assert response.status_code == 302 and "/login" in response.location
    elif username == ROLE_PAGES[url]:
        assert response.status_code == 200
    else:
        assert response.status_code == 403


def test_applicant_cannot_open_another_applicants_application_or_file(make_application,
                                                                       browser):
    entry = make_application("wj1")
    charter = db.session.scalar(select(Attachment).where(Attachment.application_id == entry.id))
    other = browser("wj2")
    assert other.get(f"/applications/{entry.id}").status == 403
    assert other.get(f"/applications/{entry.id}/attachments/{charter.id}").status == 403
    assert other.get(f"/applications/{entry.id}/edit").status == 403
    owner = browser("wj1")
    download = owner.get(f"/applications/{entry.id}/attachments/{charter.id}").response
    assert download.status_code == 200
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in download.headers["Content-Disposition"]


def test_attachment_must_belong_to_the_application_in_the_address(make_application, browser):
    mine = make_application("wj1", "一队")
    also_mine = make_application("wj1", "二队")
    charter = db.session.scalar(select(Attachment).where(
        Attachment.application_id == also_mine.id))
    assert browser("wj1").get(f"/applications/{mine.id}/attachments/{charter.id}").status == 404


def test_district_admin_sees_only_their_district(make_application, advance, browser):
    entry = advance(make_application("wj1"), "district_review")
    assert browser("tn_admin").get(f"/applications/{entry.id}").status == 403
    assert browser("wj_admin").get(f"/applications/{entry.id}").status == 200
    draft = make_application("wj2")
    assert browser("wj_admin").get(f"/applications/{draft.id}").status == 403


def test_expert_opens_only_their_own_assignments(make_application, advance, browser):
    entry = advance(make_application("wj1"), "city_review", experts=("expert1",),
                    submit_sheets=False)
    sheet = db.session.scalar(select(ReviewAssignment))
    assert browser("expert2").get(f"/reviews/{sheet.id}").status == 403
    assert browser("expert2").get(f"/applications/{entry.id}").status == 403
    assert browser("expert1").get(f"/reviews/{sheet.id}").status == 200


def test_no_state_change_without_post_and_csrf(make_application, advance, browser):
    entry = advance(make_application("wj1"), "district_review")
    user = browser("wj1")
    response = user.client.post(f"/applications/{entry.id}/transitions/withdraw")
    assert response.status_code == 400
    page = user.get(f"/applications/{entry.id}/transitions/withdraw")
    assert page.status == 200  # GET only shows the form
    assert reload(Application, entry.id).state == "district_review"
