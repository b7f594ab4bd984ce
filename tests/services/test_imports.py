"""Importing organisations, users and experts from Excel: checked first, then all or valid rows."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.engine.errors import ValidationFailed
from app.extensions import db
from app.models import Organisation, User
from app.services.import_specs import template_xlsx
from app.services.imports import apply_import, check_file
from tests.conftest import PASSWORD
from tests.people_files import (
    EXPERT_HEADERS,
    GOOD,
    ORG_HEADERS,
    USER_HEADERS,
    filled_template,
    with_cached_value,
    workbook,
)


def counts() -> tuple[int, int]:
    """Organisations and users stored now."""
    return (db.session.scalar(select(func.count()).select_from(Organisation)) or 0,
            db.session.scalar(select(func.count()).select_from(User)) or 0)


def org(code: str) -> Organisation:
    """A stored organisation by code."""
    return db.session.scalars(select(Organisation).filter_by(code=code)).one()


def user(username: str) -> User:
    """A stored user by username."""
    return db.session.scalars(select(User).filter_by(username=username)).one()


def tally(report, sheet: str = "") -> dict[str, int]:
    """The report's counts as a plain dict without zeros."""
    return {k: v for k, v in report.counts()[sheet].items() if v}


def errors(report) -> list[str]:
    """Every error of a report as the text people read."""
    return [str(problem) for problem in report.errors]


def test_a_good_file_imports_exactly_its_rows(world):
    before = counts()
    report = check_file(workbook(GOOD))
    assert errors(report) == []
    assert tally(report, "机构") == {"new": 3}
    assert tally(report, "用户") == {"new": 2} and tally(report, "专家") == {"new": 2}
    assert counts() == before  # checking writes nothing
    outcome = apply_import(report)
    db.session.commit()
    assert counts() == (before[0] + 3, before[1] + 4)
    street, unit = org("XB-SQ"), org("XB-SQ-C")
    assert (org("XB").kind, org("XB").parent.code) == ("district", "X")
    assert street.parent.code == "XB" and unit.parent.code == "XB-SQ"
    assert street.district_id == unit.district_id == org("XB").id
    admin = user("xb_admin")
    assert (admin.role, admin.org.code, admin.name) == ("district_admin", "XB", "新北区管理员")
    assert (admin.email, admin.phone) == ("xb@example.cn", "13800000001")
    assert user("sanjing").check_password("sanjing-pass-1")
    wang = user("wang")
    assert (wang.role, wang.title, wang.phone) == ("expert", "教授", "13900000000")
    assert wang.expertise == ["体育与健康养生", "美育与艺术鉴赏"]
    assert user("zhao").expertise == ["社区教育", "老年教育"]
    generated = {c.username: c.password for c in outcome.credentials}
    assert set(generated) == {"xb_admin", "wang", "zhao"}  # sanjing chose her own
    for username, password in generated.items():
        assert user(username).check_password(password)
        assert password not in user(username).password_hash
        assert len(password) >= 12 and not password.isdigit()


def test_reimport_changes_nothing_then_applies_changes(world):
    apply_import(check_file(workbook(GOOD)))
    db.session.commit()
    stored = counts()
    again = check_file(workbook(GOOD))
    assert tally(again) == {"unchanged": 7} and errors(again) == []
    outcome = apply_import(again)
    db.session.commit()
    assert counts() == stored and outcome.credentials == [] and sum(outcome.written.values()) == 0
    old_hash = user("sanjing").password_hash

    changed = {
        "机构": [ORG_HEADERS, ["XB", "常州市新北区", "区", ""],
                 ["XB-SQ-C", "三井街道社区教育中心", "单位", "XB"]],
        "用户": [USER_HEADERS,
                 ["sanjing", "吴静", "申报人", "XB-SQ-C", "wujing@example.cn", "", "new-pass-123"]],
        "专家": [EXPERT_HEADERS,
                 ["wang", "", "X-OU", "", "美育与艺术鉴赏、社区治理", "", 13900000009, ""]],
    }
    report = check_file(workbook(changed))
    assert errors(report) == []
    assert tally(report) == {"updated": 4}
    row = next(r for r in report.rows if r.key == "XB-SQ-C")
    assert [(c.column, c.old, c.new) for c in row.changes] == [("上级机构代码", "XB-SQ", "XB")]
    assert any("导入不修改密码" in str(n) for r in report.rows for n in r.notes)
    apply_import(report)
    db.session.commit()
    assert counts() == stored
    assert org("XB").name == "常州市新北区" and org("XB").parent.code == "X"  # empty keeps
    assert org("XB-SQ-C").parent.code == "XB" and org("XB-SQ-C").district_id == org("XB").id
    sanjing = user("sanjing")
    assert sanjing.email == "wujing@example.cn" and sanjing.password_hash == old_hash
    wang = user("wang")
    assert (wang.name, wang.title, wang.phone) == ("王教授", "教授", "13900000009")
    assert wang.expertise == ["社区治理", "美育与艺术鉴赏"]
    assert tally(check_file(workbook(changed))) == {"unchanged": 4}


def test_a_file_with_errors_imports_nothing_and_names_each_cell(world):
    bad = {
        "机构": [ORG_HEADERS,
                 ["XB", "新北区", "区", "X"],
                 ["XB-1", "某单位", "学校", "XB"],
                 ["XB-2", "某街道", "街道", "NOPE"],
                 ["XB-3", "某社区", "单位", "XB-2"],
                 ["WJ", "武进区", "街道", "X"],
                 ["XB-4", "", "单位", "XB-S"]],
        "用户": [USER_HEADERS,
                 ["ok_user", "好人", "申报人", "XB", "", "", ""],
                 ["bad mail", "甲", "申报人", "XB", "not-an-address", "", ""],
                 ["weak", "乙", "申报人", "XB", "", "", "12345678"],
                 ["boss", "丙", "专家组", "XB", "", "", ""],
                 ["ou_admin", "丁", "区级管理员", "X-OU", "", "", ""],
                 ["ok_user", "重复", "申报人", "XB", "", "", ""],
                 ["wj1", "", "区级管理员", "WJ-U1", "", "", ""],
                 ["third", "戊", "申报人", "XB-3", "", "电话", ""]],
    }
    before = counts()
    report = check_file(workbook(bad))
    assert errors(report) == [
        "【机构】第 3 行「类型」：未知的机构类型“学校”（应为 市、区、街道 或 单位）",
        "【机构】第 4 行「上级机构代码」：上级机构不存在：NOPE",
        "【机构】第 5 行「上级机构代码」：上级机构“XB-2”所在行（第 4 行）有错误",
        "【机构】第 6 行「类型」：机构已存在，类型为“区”；导入不修改机构类型",
        "【机构】第 7 行「机构名称」：必填",
        "【机构】第 7 行「上级机构代码」：上级机构不存在：XB-S",
        "【用户】第 3 行「用户名」：“bad mail”不能含空格，也不能以 # 开头",
        "【用户】第 3 行「电子邮箱」：电子邮箱格式不正确：not-an-address",
        "【用户】第 4 行「初始密码」：这个密码太常见，容易被猜到，请换一个",
        "【用户】第 5 行「角色」：未知的角色“专家组”"
        "（应为 申报人、区级管理员、市级管理员 或 评审专家）",
        "【用户】第 6 行「所属机构代码」：区级管理员必须属于某个区（或其下的街道、单位）",
        "【用户】第 7 行「用户名」：与【用户】第 2 行重复",
        "【用户】第 8 行「角色」：用户已存在，角色为“申报人”；导入不修改角色，请在用户管理页面修改",
        "【用户】第 9 行「所属机构代码」：机构“XB-3”所在行（【机构】第 5 行）有错误",
        "【用户】第 9 行「手机」：电话号码格式不正确：电话",
    ]
    assert tally(report, "机构") == {"new": 1, "invalid": 5}
    assert tally(report, "用户") == {"new": 1, "invalid": 7}
    with pytest.raises(ValidationFailed, match="文件中有 15 处错误，未导入任何数据"):
        apply_import(report)
    db.session.rollback()
    assert counts() == before


def test_valid_only_imports_exactly_the_valid_rows(world):
    mixed = {
        "机构": [ORG_HEADERS, ["XB", "新北区", "区", "X"], ["XB-S", "某街道", "街坊", "XB"],
                 ["XB-S-U", "某单位", "单位", "XB-S"]],
        "用户": [USER_HEADERS, ["good", "好", "申报人", "XB", "", "", ""],
                 ["orphan", "孤", "申报人", "XB-S-U", "", "", ""],
                 ["badrole", "错", "校长", "XB", "", "", ""]],
        "专家": [EXPERT_HEADERS, ["expert9", "专家九", "XB", "", "", "", "", ""]],
    }
    before = counts()
    report = check_file(workbook(mixed))
    assert tally(report) == {"new": 3, "invalid": 4}
    outcome = apply_import(report, valid_only=True)
    db.session.commit()
    assert outcome.written["new"] == 3
    assert counts() == (before[0] + 1, before[1] + 2)
    assert org("XB").name == "新北区"
    assert {u.username for u in db.session.scalars(select(User).where(
        User.username.in_(["good", "orphan", "badrole", "expert9"])))} == {"good", "expert9"}
    assert db.session.scalar(select(Organisation).filter_by(code="XB-S-U")) is None


def test_cells_are_read_as_people_type_them(world):
    messy = workbook({
        "说明": [["这张表不导入"]],
        "用户": [["2026 年新增用户"], [],
                 ["所属机构代码 ", "用户名*", "角色", "手机号", "备注"],
                 ["# 说明行：以 # 开头的行跳过", "", "", "", ""],
                 ["ＷＪ－Ｕ１", " ｌｉ　", " 申报人 ", 13800000000.0, "随便写"],
                 ["WJ-U2", "chen", "applicant", "=\"0519-\"&\"86000000\"", ""],
                 ["WJ-U3", "=\"zh\"&\"ou\"", "申报人", "", ""],
                 [], [None, None, None], ["   ", "", "", "", ""]],
    })
    messy = with_cached_value(messy, 2, "D6", "0519-86000000")
    report = check_file(messy)
    assert [str(n) for n in report.notes] == ["【用户】第 3 行「备注」：未识别的列，已忽略"]
    assert errors(report) == ["【用户】第 7 行「用户名」：公式没有计算结果，请在 Excel 或 WPS 中"
                              "打开并保存后再导入，或直接填写数值"]
    li, chen = report.rows[0], report.rows[1]
    assert (li.row, li.key, li.values["org"], li.values["phone"]) == (5, "li", "WJ-U1",
                                                                      "13800000000")
    assert (chen.row, chen.values["phone"], chen.values["role"]) == (6, "0519-86000000",
                                                                     "applicant")


@pytest.mark.parametrize(("data", "message"), [
    (b"", "文件是空的"),
    (b"username,role\nli,applicant\n", "文件不是 .xlsx 格式"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "这是旧版 Excel（.xls）文件"),
    (b"PK\x03\x04 broken", "文件已损坏"),
    (b"x" * (5 * 1024 * 1024 + 1), "文件超过 5 MB"),
])
def test_files_that_are_not_workbooks_are_refused(world, data, message):
    with pytest.raises(ValidationFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_file(data)


def test_a_zip_that_is_not_a_workbook_and_a_workbook_without_our_sheets(world):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(ValidationFailed, match="无法读取该文件"):
        check_file(buffer.getvalue())
    with pytest.raises(ValidationFailed, match="文件中没有可导入的工作表"):
        check_file(workbook({"Sheet1": [["用户名"]]}))


def test_a_sheet_missing_a_required_column_blocks_the_whole_file(world):
    report = check_file(workbook({"用户": [["用户名", "姓名"], ["li", "李"]],
                                  "机构": [ORG_HEADERS, ["XB", "新北区", "区", "X"]]}))
    assert [str(p) for p in report.problems] == ["【用户】第 1 行「角色」：缺少必需的列",
                                                 "【用户】第 1 行「所属机构代码」：缺少必需的列"]
    for valid_only in (False, True):
        with pytest.raises(ValidationFailed, match="文件的结构有错误"):
            apply_import(report, valid_only=valid_only)


def test_a_move_may_not_leave_a_district_admin_outside_a_district(world):
    world["users"]["wj_admin"].org = org("WJ-S")
    db.session.commit()
    report = check_file(workbook({"机构": [ORG_HEADERS, ["WJ-S", "某街道", "街道", "X"]]}))
    assert errors(report) == ["【机构】第 2 行「上级机构代码」："
                              "移动后以下区级管理员将不属于任何区：wj_admin"]


def test_experts_sheet_never_turns_a_user_into_an_expert(world):
    report = check_file(workbook({"专家": [EXPERT_HEADERS,
                                         ["wj1", "", "WJ-U1", "教授", "", "", "", ""]]}))
    assert errors(report) == ["【专家】第 2 行「用户名」：用户已存在，角色为“申报人”；"
                              "导入不修改角色，请在用户管理页面修改"]
    assert user("wj1").check_password(PASSWORD)


def test_the_template_filled_in_imports(world):
    template = template_xlsx()
    book = load_workbook(io.BytesIO(template))
    assert book.sheetnames == ["说明", "机构", "用户", "专家"]
    assert [c.value for c in book["用户"][1]] == USER_HEADERS
    assert str(book["用户"]["A2"].value).startswith("#")
    lists = {str(v.sqref): v.formula1 for v in book["用户"].data_validations.dataValidation}
    assert lists == {"C3:C2000": '"申报人,区级管理员,市级管理员,评审专家"'}
    assert check_file(template).rows == []  # the note rows are not data
    report = check_file(filled_template(template, GOOD))
    assert errors(report) == [] and tally(report) == {"new": 7}
    apply_import(report)
    db.session.commit()
    assert user("wang").title == "教授" and org("XB-SQ-C").parent.code == "XB-SQ"


def test_the_command_line_reports_and_imports(app, world, tmp_path):
    path = tmp_path / "people.xlsx"
    runner = app.test_cli_runner()
    bad = {**GOOD, "用户": GOOD["用户"] + [["boss", "丙", "专家组", "XB", "", "", ""]]}
    path.write_bytes(workbook(bad))
    before = counts()
    result = runner.invoke(args=["users", "import", str(path)])
    assert result.exit_code == 1
    assert "【用户】第 4 行「角色」：未知的角色“专家组”" in result.output
    assert "文件中有 1 处错误，未导入任何数据" in result.output
    dry = runner.invoke(args=["users", "import", str(path), "--valid-only", "--dry-run"])
    assert dry.exit_code == 0 and "试运行" in dry.output
    assert "【用户】3 行：新增 2，更新 0，未变 0，有错误 1" in dry.output
    assert counts() == before
    credentials = tmp_path / "passwords.xlsx"
    done = runner.invoke(args=["users", "import", str(path), "--valid-only",
                               "--credentials", str(credentials)])
    assert done.exit_code == 0, done.output
    assert "导入完成：新增 7 行，更新 0 行；未变 0 行，有错误未导入 1 行" in done.output
    assert counts() == (before[0] + 3, before[1] + 4)
    sheet = load_workbook(credentials).active
    rows = {row[0]: row[4] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"xb_admin", "wang", "zhao"}
    db.session.rollback()
    assert user("wang").check_password(rows["wang"])
    assert credentials.stat().st_mode & 0o077 == 0
    again = runner.invoke(args=["users", "import", str(path), "--valid-only"])
    assert "新增 0 行，更新 0 行；未变 7 行" in again.output
    assert "自动生成的初始密码" not in again.output
    (tmp_path / "notes.txt").write_text("hello")
    refused = runner.invoke(args=["users", "import", str(tmp_path / "notes.txt")])
    assert refused.exit_code == 1 and "文件不是 .xlsx 格式" in refused.output
