"""The import workbook: its sheets and columns, the words accepted for kinds and roles, and the
template file administrators download and fill in."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from app.models import OrgKind, Role
from app.services.import_sheets import COMMENT, Column, SheetSpec

KIND_LABELS = {OrgKind.CITY: "市", OrgKind.DISTRICT: "区", OrgKind.STREET: "街道",
               OrgKind.UNIT: "单位"}
ROLE_LABELS = {Role.APPLICANT: "申报人", Role.DISTRICT_ADMIN: "区级管理员",
               Role.CITY_ADMIN: "市级管理员", Role.EXPERT: "评审专家"}
# What people write in the 类型 and 角色 columns (compared in lower case).
KINDS = {**{label: kind.value for kind, label in KIND_LABELS.items()},
         **{kind.value: kind.value for kind in OrgKind},
         "市级": "city", "区级": "district", "县": "district", "区县": "district",
         "县区": "district", "镇": "street", "乡镇": "street", "镇街": "street",
         "镇(街道)": "street", "街道(镇)": "street"}
ROLES = {**{label: role.value for role, label in ROLE_LABELS.items()},
         **{role.value: role.value for role in Role},
         "申报用户": "applicant", "申报单位": "applicant", "区管理员": "district_admin",
         "市管理员": "city_admin", "专家": "expert"}
EXPERTISE_SEPARATORS = "、，,;；\n"

_CODE = "必填；唯一；字母、数字、- 或 _，如 WJ-HT"
_ORG = "必填；机构表或系统中已有的机构代码"
_EMAIL = "选填；用于接收通知"
_PHONE = "选填；如 13800000000 或 0519-86000000"
_PASSWORD = "选填；至少 8 位且不全是数字；留空则自动生成，导入后只显示一次"

ORGS = SheetSpec("机构", (
    Column("code", "机构代码", True, _CODE, folded=True, aliases=("代码",)),
    Column("name", "机构名称", True, "必填", aliases=("名称",)),
    Column("kind", "类型", True, "必填：市、区、街道 或 单位", aliases=("机构类型", "层级"),
           choices=tuple(KIND_LABELS.values())),
    Column("parent", "上级机构代码", False, "市级机构留空，其余必填；可以是本表中的机构",
           folded=True, aliases=("上级代码", "上级机构")),
))
USERS = SheetSpec("用户", (
    Column("username", "用户名", True, "必填；唯一；登录时使用", folded=True, aliases=("账号",)),
    Column("name", "姓名", False, "选填"),
    Column("role", "角色", True, "必填：申报人、区级管理员、市级管理员 或 评审专家",
           choices=tuple(ROLE_LABELS.values())),
    Column("org", "所属机构代码", True, _ORG, folded=True, aliases=("机构代码", "所属机构")),
    Column("email", "电子邮箱", False, _EMAIL, folded=True, aliases=("邮箱", "电子邮件", "email")),
    Column("phone", "手机", False, _PHONE, folded=True,
           aliases=("手机号", "手机号码", "电话", "联系电话")),
    Column("password", "初始密码", False, _PASSWORD, aliases=("密码",)),
))
EXPERTS = SheetSpec("专家", (
    Column("username", "用户名", True, "必填；唯一；登录时使用", folded=True, aliases=("账号",)),
    Column("name", "姓名", False, "选填"),
    Column("org", "所属机构代码", True, _ORG, folded=True, aliases=("机构代码", "所属机构")),
    Column("title", "职称", False, "选填，如 教授、高级讲师"),
    Column("expertise", "专长", False, "选填；多个用 、 ， 或 ； 分隔，每个不超过 30 字",
           aliases=("专长领域", "研究方向")),
    Column("email", "电子邮箱", False, _EMAIL, folded=True, aliases=("邮箱", "电子邮件", "email")),
    Column("phone", "手机", False, _PHONE, folded=True,
           aliases=("手机号", "手机号码", "电话", "联系电话")),
    Column("password", "初始密码", False, _PASSWORD, aliases=("密码",)),
))
SPECS = (ORGS, USERS, EXPERTS)

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
NOTE_FONT = Font(italic=True, color="808080")
TEMPLATE_ROWS = 2000  # rows the drop-down lists cover
GUIDE = [
    "机构、用户与专家导入模板",
    "",
    "1. 每个工作表第 1 行是表头，请勿修改；第 2 行以 # 开头，是填写说明，导入时跳过"
    "（以 # 开头的行都会跳过）。从第 3 行起每行填一个机构或一个人。",
    "2. 「机构」表：机构代码唯一；类型为 市、区、街道 或 单位；上级机构的层级必须高于本机构"
    "（市 → 区 → 街道 → 单位，单位也可以直属市或区）。上级机构可以是本表中的任一行，顺序不限。",
    "3. 「用户」表：角色为 申报人、区级管理员、市级管理员 或 评审专家；区级管理员必须属于某个区"
    "或其下的街道、单位。",
    "4. 「专家」表：评审专家，可填职称和专长（多个专长用 、 ， 或 ； 分隔）。",
    "5. 初始密码留空时，系统自动生成，导入完成后只显示一次，请及时转交本人。",
    "6. 再次导入同一文件不会重复创建：按机构代码、用户名匹配，只更新有变化的名称、上级机构、"
    "所属机构、邮箱、手机、职称、专长；留空的选填列保持原值；不会修改已有用户的角色和密码。",
    "7. 上传后先预览：每一行都会检查，错误按工作表、行号和列名列出；确认后才写入。",
    "",
    "示例（请在对应工作表中从第 3 行起填写）：",
    "机构：WJ | 武进区 | 区 | X",
    "机构：WJ-HT | 湖塘镇 | 街道 | WJ",
    "用户：wj_admin | 李明 | 区级管理员 | WJ | li@example.cn | 13800000000 |",
    "专家：wang | 王教授 | X-OU | 教授 | 美育与艺术鉴赏、体育与健康养生 | | |",
]


def template_xlsx() -> bytes:
    """The empty import workbook: a guide, then one sheet per kind with headers and notes."""
    workbook = Workbook()
    guide = workbook.active
    assert guide is not None
    guide.title = "说明"
    for line in GUIDE:
        guide.append([line])
    guide["A1"].font = Font(bold=True, size=14)
    guide.column_dimensions["A"].width = 110
    for spec in SPECS:
        _template_sheet(workbook.create_sheet(spec.name), spec)
    workbook.active = 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _template_sheet(sheet: Worksheet, spec: SheetSpec) -> None:
    """Headers, the note row, text-formatted columns and drop-down lists for one sheet."""
    sheet.append([column.header for column in spec.columns])
    notes = [column.note for column in spec.columns]
    notes[0] = f"{COMMENT} {notes[0]}"
    sheet.append(notes)
    sheet.freeze_panes = "A3"
    for index, column in enumerate(spec.columns, start=1):
        letter = get_column_letter(index)
        header = sheet.cell(row=1, column=index)
        header.font, header.fill = HEADER_FONT, HEADER_FILL
        note = sheet.cell(row=2, column=index)
        note.font, note.alignment = NOTE_FONT, Alignment(wrap_text=True, vertical="top")
        dimension = sheet.column_dimensions[letter]
        dimension.width = 36 if column.key == "expertise" else 18
        # Text columns keep leading zeros of codes and the digits of phone numbers as typed.
        dimension.number_format = "@"
        if column.choices:
            validation = DataValidation(type="list", formula1=f'"{",".join(column.choices)}"',
                                        allow_blank=True, showErrorMessage=True,
                                        errorTitle=f"{column.header}不正确",
                                        error="请从下拉列表中选择：" + "、".join(column.choices))
            validation.add(f"{letter}3:{letter}{TEMPLATE_ROWS}")
            sheet.add_data_validation(validation)
    sheet.row_dimensions[2].height = 45


def credentials_xlsx(credentials: list[Any]) -> bytes:
    """The generated passwords of new accounts as a workbook, to hand out once."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "初始密码"
    sheet.append(["用户名", "姓名", "角色", "所属机构代码", "初始密码"])
    for c in credentials:
        sheet.append([c.username, c.name, ROLE_LABELS.get(Role(c.role), c.role), c.org,
                      c.password])
    for index in range(1, 6):
        sheet.cell(row=1, column=index).font = HEADER_FONT
        sheet.column_dimensions[get_column_letter(index)].width = 20
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
