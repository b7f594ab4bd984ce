"""The city imports organisations and people from Excel: template, upload, preview, confirm."""

from __future__ import annotations

import io
import re
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import Organisation, User
from app.services.accounts import add_user
from tests.conftest import PASSWORD, login
from tests.people_files import GOOD, ORG_HEADERS, USER_HEADERS, filled_template, workbook

UPLOAD = "/admin/people/import"


def stored() -> tuple[int, int]:
    """Organisations and users in the database now (read afresh)."""
    db.session.rollback()
    return (db.session.scalar(select(func.count()).select_from(Organisation)) or 0,
            db.session.scalar(select(func.count()).select_from(User)) or 0)


def upload(city, data: bytes, filename: str = "people.xlsx"):
    """Upload a file through the form; returns the page the redirect leads to."""
    page = city.get(UPLOAD)
    sent = city.submit(page, page.form(UPLOAD), files={"file": [(data, filename)]})
    assert sent.status == 302, sent.text
    return city.get(sent.response.headers["Location"])


def waiting(app) -> list[Path]:
    """The uploaded files waiting for confirmation."""
    folder = Path(app.config["IMPORT_FOLDER"])
    return sorted(folder.glob("*.xlsx")) if folder.exists() else []


def test_the_city_fills_the_template_previews_and_imports(app, world, browser):
    city = browser("city")
    assert 'href="/admin/users">用户</a>' in city.get("/admin/").text  # the nav entry
    assert 'href="/admin/people/import">从 Excel 导入' in city.get("/admin/users").text
    template = city.get("/admin/people/import/template.xlsx")
    assert template.response.mimetype.endswith("spreadsheetml.sheet")
    before = stored()
    preview = upload(city, filled_template(template.response.get_data(), GOOD))
    assert preview.status == 200
    for text in ("导入预览", "新增", "三井街道社区教育中心", "xb_admin"):
        assert text in preview.text, text
    assert len(waiting(app)) == 1 and stored() == before  # kept on the server, nothing written
    confirm = preview.form("/confirm")
    result = city.submit(preview, confirm, button=("mode", "all"))
    assert result.status == 200, result.text
    assert result.response.headers["Cache-Control"] == "private, no-store"
    assert "初始密码——只显示这一次" in result.text
    assert stored() == (before[0] + 3, before[1] + 4)
    assert waiting(app) == []
    download = city.submit(result, result.form("/credentials"))
    sheet = load_workbook(io.BytesIO(download.response.get_data())).active
    passwords = {row[0]: row[4] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(passwords) == {"xb_admin", "wang", "zhao"}
    assert all(p in result.text for p in passwords.values())
    fresh = app.test_client()
    assert login(fresh, "wang", passwords["wang"]).status_code == 302
    again = city.get("/admin/people/import/preview")
    assert again.status == 302  # the file is gone with the import


def test_reimporting_the_same_file_shows_it_unchanged(world, browser):
    city = browser("city")
    preview = upload(city, workbook(GOOD))
    city.submit(preview, preview.form("/confirm"), button=("mode", "all"))
    before = stored()
    again = upload(city, workbook(GOOD))
    assert "文件中的数据与系统中完全相同，无需导入" in again.text
    assert 'value="all"' not in again.text
    assert stored() == before


def test_errors_are_listed_and_only_valid_rows_may_be_chosen(app, world, browser):
    bad = {"机构": [ORG_HEADERS, ["XB", "新北区", "区", "X"]],
           "用户": [USER_HEADERS, ["li", "李", "申报人", "XB", "", "", ""],
                    ["boss", "丙", "专家组", "XB", "", "", ""],
                    ["mail", "丁", "申报人", "XB", "bad address", "", ""]]}
    city = browser("city")
    preview = upload(city, workbook(bad))
    for text in ("未知的角色“专家组”", "电子邮箱格式不正确：bad address", "有错误"):
        assert text in preview.text, text
    cells = re.findall(r"<tr class=\"refused\"><td[^>]*>(.*?)</td><td[^>]*>(.*?)</td>\s*"
                       r"<td[^>]*>(.*?)</td>", preview.text)
    assert cells == [("用户", "3", "角色"), ("用户", "4", "电子邮箱")]  # rows as Excel shows
    assert 'value="all"' not in preview.text
    assert "只导入 2 行有效数据" in preview.text
    before = stored()
    confirm = preview.form("/confirm")
    refused = city.submit(preview, confirm, button=("mode", "all"))  # forged: not offered
    assert refused.status == 302 and stored() == before
    back = city.get(refused.response.headers["Location"])
    assert "文件中有 2 处错误，未导入任何数据" in back.text
    done = city.submit(preview, confirm, button=("mode", "valid"))
    assert done.status == 200
    assert stored() == (before[0] + 1, before[1] + 1)
    assert db.session.scalar(select(User).filter_by(username="boss")) is None


def test_the_confirmation_applies_only_what_was_previewed(world, browser):
    city = browser("city")
    preview = upload(city, workbook(GOOD))
    add_user("wang", "applicant", "X-OU", PASSWORD)  # someone else, meanwhile
    db.session.commit()
    before = stored()
    sent = city.submit(preview, preview.form("/confirm"), button=("mode", "all"))
    assert sent.status == 302 and stored() == before
    assert "预览之后数据有变化" in city.get(sent.response.headers["Location"]).text


def test_files_that_cannot_be_read_are_refused_and_not_kept(app, world, browser):
    city = browser("city")
    page = city.get(UPLOAD)
    sent = city.submit(page, page.form(UPLOAD), files={"file": [(b"a,b\n", "people.csv")]})
    assert "只能导入 Excel 工作簿（.xlsx）" in city.get(sent.response.headers["Location"]).text
    refused = upload(city, b"not a workbook at all")
    assert refused.status == 302 and waiting(app) == []
    assert "文件不是 .xlsx 格式" in city.get(refused.response.headers["Location"]).text
    cancelled = upload(city, workbook(GOOD))
    assert len(waiting(app)) == 1
    city.submit(cancelled, cancelled.form("/cancel"))
    assert waiting(app) == []


def test_only_the_city_imports_and_only_its_own_upload(app, world, browser):
    district = browser("wj_admin")
    for url in (UPLOAD, "/admin/people/import/template.xlsx", "/admin/people/import/preview"):
        assert district.get(url).status == 403, url
    city = browser("city")
    preview = upload(city, workbook(GOOD))
    add_user("city2", "city_admin", "X", PASSWORD)
    db.session.commit()
    other = browser("city2")
    assert other.get("/admin/people/import/preview").status == 302  # not in their session
    form = preview.form("/confirm")
    before = stored()
    forged = other.post("/admin/people/import/confirm", dict(form.fields) | {"mode": "all"},
                        other.get(UPLOAD))
    assert forged.status == 302 and stored() == before
    assert len(waiting(app)) == 1


def test_a_web_import_creates_a_bounded_number_of_accounts(app, world, browser):
    app.config["IMPORT_WEB_MAX_NEW_USERS"] = 3
    city = browser("city")
    preview = upload(city, workbook(GOOD))
    assert "此文件将创建 4 个账号" in preview.text and "flask users import" in preview.text
    assert 'name="mode"' not in preview.text
    before = stored()
    forged = city.post("/admin/people/import/confirm",
                       dict(preview.form("/confirm").fields) | {"mode": "all"}, preview)
    assert forged.status == 302 and stored() == before
