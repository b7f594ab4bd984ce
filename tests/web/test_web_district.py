"""The district's list, its quota, and the refusal beyond the quota."""

from __future__ import annotations

from app.models import Application
from tests.web.conftest import reload

QUOTA_REFUSAL = "本区推荐名额为 1 个，已推荐 1 个"


def test_second_recommendation_beyond_the_quota_is_refused_with_the_numbers(
        make_application, advance, browser):
    first = advance(make_application("tn1", "天宁一队"), "district_review")
    second = advance(make_application("tn2", "天宁二队"), "district_review")
    district = browser("tn_admin")
    home = district.get("/district/")
    assert "天宁一队" in home.text and "天宁二队" in home.text

    page = district.get(f"/applications/{first.id}/transitions/recommend")
    assert district.submit(page, page.form(), {"rank": "1", "opinion": "推荐"}).status == 302

    detail = district.get(f"/applications/{second.id}")
    assert QUOTA_REFUSAL in detail.text and "disabled" in detail.text
    page = district.get(f"/applications/{second.id}/transitions/recommend")
    refused = district.submit(page, page.form(), {"rank": "2", "opinion": "也推荐"})
    assert refused.status == 422
    assert QUOTA_REFUSAL in refused.text
    assert refused.input_value("rank") == "2"
    assert reload(Application, second.id).state == "district_review"
    quota_row = district.get("/district/").text
    assert "<td data-label=\"Recommended\">1</td>" in quota_row or ">1</td>" in quota_row


def test_step_form_errors_are_shown_beside_the_fields(make_application, advance, browser):
    entry = advance(make_application("wj1"), "district_review")
    district = browser("wj_admin")
    page = district.get(f"/applications/{entry.id}/transitions/recommend")
    refused = district.submit(page, page.form(), {"rank": "0", "opinion": ""})
    assert refused.status == 422
    assert refused.field_error("rank") == "不能小于 1"
    assert refused.field_error("opinion") == "此项为必填项"
    assert reload(Application, entry.id).state == "district_review"


def test_district_list_filters_by_state_and_hides_drafts(make_application, advance, browser):
    advance(make_application("wj1", "已提交队"), "district_review")
    make_application("wj2", "草稿队")
    district = browser("wj_admin")
    assert "草稿队" not in district.get("/district/").text
    page = district.get("/district/?state=city_review")
    assert "已提交队" not in page.text
    assert "已提交队" in district.get("/district/?state=district_review").text
    advance(make_application("wj3", "另一队"), "district_review")
    found = district.get("/district/?q=武进区单位3").text  # wj3's unit, by its name
    assert "另一队" in found and "已提交队" not in found
    assert "已提交队" in district.get("/district/?q=已提交").text


def test_an_english_reader_sees_the_quota_refusal_in_english(make_application, advance, browser):
    first = advance(make_application("tn1", "天宁一队"), "district_review")
    second = advance(make_application("tn2", "天宁二队"), "district_review")
    district = browser("tn_admin")
    page = district.get(f"/applications/{first.id}/transitions/recommend")
    assert district.submit(page, page.form(), {"rank": "1", "opinion": "推荐"}).status == 302

    district.client.set_cookie("lang", "en")
    english = "quota is 1; 1 already recommended; no places left"  # (the ' is escaped)
    assert english in district.get(f"/applications/{second.id}").text
    page = district.get(f"/applications/{second.id}/transitions/recommend")
    refused = district.submit(page, page.form(), {"rank": "0", "opinion": ""})
    assert refused.status == 422
    assert refused.field_error("rank") == "Must not be less than 1"
    assert refused.field_error("opinion") == "This field is required"
    refused = district.submit(page, page.form(), {"rank": "2", "opinion": "也推荐"})
    assert refused.status == 422 and english in refused.text and QUOTA_REFUSAL not in refused.text
