"""In a real browser: the city starts a bulk issue and watches the progress bar move while the
real worker draws the certificates, then sees the outcome without reloading by hand."""

from __future__ import annotations

import time

from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import func, select

from app.extensions import db
from app.models import Certificate
from tests.conftest import browser_login


def test_the_progress_bar_follows_the_worker_until_the_job_is_done(
        world, awarded, worker, browser):
    awarded(60)
    worker(1)  # one process: about 5 s of drawing, several ticks of the page's 1 s polling
    browser_login(browser, "city")
    browser.goto(f"/admin/calls/{world['call'].id}/certificates")
    browser.get_by_role("button", name="签发 60 份证书").click()
    browser.wait_for_selector("#issuing progress")

    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if browser.locator("text=最近一次批量签发已完成").count():
            break
        try:
            value = browser.evaluate(
                "() => document.querySelector('#issuing progress')?.value ?? null")
        except PlaywrightError:  # the page reloads itself when the job ends
            value = None
        if value is not None:
            seen.add(int(value))
        time.sleep(0.1)
    else:
        raise AssertionError(f"the page never showed the finished job; progress seen: {seen}")

    assert any(0 < value < 100 for value in seen), seen  # it moved while the worker ran
    assert "共 60 份证书，均已生成" in browser.inner_text("#issuing")
    assert browser.locator("table.data-table tbody tr").count() == 50  # the first page
    assert "第 1 / 2 页 · 共 60 条" in browser.inner_text(".pager")
    db.session.rollback()
    assert db.session.scalar(select(func.count(Certificate.id))) == 60
