"""Forms built from definitions: every field type read back as JSON-ready data."""

from __future__ import annotations

from types import SimpleNamespace

from werkzeug.datastructures import MultiDict

from app.engine.checker import Checker
from app.engine.definitions import FormDef
from app.engine.forms_schema import check_form
from app.web.dynamic_forms import apply_errors, form_class, form_to_data, prefill

DOC = {
    "kind": "form", "key": "every_type", "title": "各类字段",
    "sections": [{"title": "全部", "fields": [
        {"key": "name", "label": "名称", "type": "text", "max_length": 10},
        {"key": "data", "label": "与表单属性同名", "type": "textarea"},
        {"key": "count", "label": "人数", "type": "integer", "min": 1},
        {"key": "hours", "label": "时长", "type": "decimal", "places": 1},
        {"key": "day", "label": "日期", "type": "date"},
        {"key": "kind", "label": "类别", "type": "choice", "choices": ["甲", "乙"],
         "widget": "radio"},
        {"key": "tags", "label": "标签", "type": "multi_choice", "choices": ["A", "B", "C"]},
        {"key": "agree", "label": "同意", "type": "boolean"},
        {"key": "phone", "label": "电话", "type": "phone"},
        {"key": "mail", "label": "邮箱", "type": "email"},
        {"key": "scan", "label": "扫描件", "type": "file"},
        {"key": "rows", "label": "表格", "type": "table", "columns": [
            {"key": "who", "label": "姓名", "type": "text"},
            {"key": "age", "label": "年龄", "type": "integer"}]},
    ]}],
}


def _programme() -> SimpleNamespace:
    """A stand-in programme holding just this form."""
    problems: list[str] = []
    form = check_form(DOC, Checker("forms/every_type.yaml", problems))
    assert form is not None, problems
    return SimpleNamespace(key="test", version=1, forms={"every_type": FormDef(form)})


def test_posted_values_become_json_ready_data(app):
    programme = _programme()
    posted = MultiDict([
        ("name", " 甲队 "), ("data_", "多行\n文本"), ("count", "12"), ("hours", "2.5"),
        ("day", "2024-05-01"), ("kind", "乙"), ("tags", "A"), ("tags", "C"), ("agree", "y"),
        ("phone", ""), ("mail", "a@b.cn"), ("rows-0-who", "张三"), ("rows-0-age", "x1"),
        ("rows-1-who", ""), ("rows-1-age", ""), ("count_bad", "ignored")])
    with app.test_request_context(method="POST", data=posted):
        form = form_class(programme, "every_type")(meta={"csrf": False})
        data = form_to_data(programme.forms["every_type"], form)
        assert data == {
            "name": "甲队", "data": "多行\n文本", "count": 12, "hours": 2.5,
            "day": "2024-05-01", "kind": "乙", "tags": ["A", "C"], "agree": True,
            "phone": None, "mail": "a@b.cn", "rows": [{"who": "张三", "age": "x1"}]}
        left = apply_errors(form, {"count": "不能小于 1", "unknown": "?"})
        assert form.field_for("count").errors == ["不能小于 1"] and left == {"unknown": "?"}
        html = str(form.field_for("kind")) + str(form.field_for("tags"))
        assert 'type="radio"' in html and 'type="checkbox"' in html


def test_unparsable_numbers_are_passed_on_as_typed(app):
    programme = _programme()
    posted = MultiDict([("count", "abc"), ("hours", "1,5"), ("day", "昨天")])
    with app.test_request_context(method="POST", data=posted):
        form = form_class(programme, "every_type")(meta={"csrf": False})
        data = form_to_data(programme.forms["every_type"], form)
        assert (data["count"], data["hours"], data["day"]) == ("abc", "1,5", "昨天")
        assert data["agree"] is False and data["tags"] is None and data["rows"] is None


def test_stored_data_fills_the_form(app):
    programme = _programme()
    stored = {"data": "x", "hours": 2.5, "day": "2024-05-01", "rows": [{"who": "李四", "age": 30}]}
    with app.test_request_context():
        form = form_class(programme, "every_type")(
            data=prefill(programme.forms["every_type"], stored), meta={"csrf": False})
        form.pad_tables(programme.forms["every_type"])
        assert form.field_for("day")._value() == "2024-05-01"
        assert form.field_for("hours")._value() == "2.5"
        rows = form.field_for("rows")
        assert len(rows.entries) == 3 and rows.entries[0].form["who"].data == "李四"
        assert 'name="rows-__index__-who"' in str(form.blank_row("rows")["who"])
        assert form.field_for("data").data == "x"
