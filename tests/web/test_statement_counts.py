"""The lists and overviews run as many SQL statements for a few entries as for more: no query
per row (timings are measured in bench/dashboards.py, never here)."""

from __future__ import annotations

from app.extensions import db
from tests.statements import recorded

PAGES = {  # user → pages whose statement count must not depend on the number of entries
    "city": ["/admin/", "/admin/calls/{call}/overview", "/admin/calls/{call}",
             "/admin/calls/{call}?q=单位&sort=-submitted", "/admin/calendar",
             "/admin/calls/{call}/review-progress", "/admin/calls/{call}/certificates"],
    "wj_admin": ["/district/", "/district/calls/{call}"],
}


def _counts(browser, call_id):
    result = {}
    for user, pages in PAGES.items():
        client = browser(user)
        for page in pages:
            url = page.format(call=call_id)
            assert client.get(url).status == 200, url  # warm: login, caches
            with recorded(db.engine) as seen:
                client.get(url)
            result[url] = len(seen)
    return result


def test_pages_cost_the_same_for_two_entries_and_for_six(world, make_application, advance,
                                                          browser):
    def add(entries):
        for applicant, name, to in entries:
            experts = ("expert1", "expert2") if to == "city_review" else ()
            advance(make_application(applicant, name=name), to, experts=experts)

    add([("wj1", "甲队", "city_review"), ("tn1", "乙队", "district_review")])
    few = _counts(browser, world["call"].id)
    add([("wj2", "丙队", "city_review"), ("tn2", "丁队", "district_review"),
         ("wj3", "戊队", "district_review"), ("tn3", "己队", "district_review")])
    more = _counts(browser, world["call"].id)
    assert more == few
