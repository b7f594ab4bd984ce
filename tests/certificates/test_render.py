"""Certificate PDFs: text layer, fonts, glyph check, sandboxing, Chinese dates."""

from __future__ import annotations

import dataclasses
import datetime
import io
from dataclasses import replace
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from app.certificates import render
from app.certificates.render import (
    FONT_DIR,
    FONT_FACES,
    CertificateFacts,
    CertificateTemplateError,
    MissingGlyphError,
    ResourceRefusedError,
    check_system_libraries,
    chinese_date,
    font_weight,
    render_certificate,
    render_html,
)

FACTS = CertificateFacts(
    serial="PS-2026-SQJY-000128",
    code="7KQ2-M9XD",
    holder="胡塘街道社区学校教学团队",
    organisation="X市胡塘街道社区学校",
    programme_title="社区教育优秀团队遴选",
    call_title="2026年度X市社区教育优秀团队遴选",
    award="优秀团队",
    issuer="X市教育局\nX市社区教育指导中心",
    issued_on=datetime.date(2026, 6, 8),
    verify_url="https://pingshen.example.gov.cn/verify/PS-2026-SQJY-000128",
    text=("在2026年度X市社区教育优秀团队遴选中表现突出，被评为“优秀团队”。",
              "特发此证，以资鼓励。"),
)


def make_facts(**changes: object) -> CertificateFacts:
    """Return FACTS with some fields replaced."""
    return dataclasses.replace(FACTS, **changes)  # type: ignore[arg-type]


def pdf_text(pdf: bytes) -> str:
    """Return the text layer of a one-page PDF, whitespace removed."""
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return "".join(reader.pages[0].extract_text().split())


def test_pdf_has_the_facts_on_one_a4_landscape_page() -> None:
    pdf = render_certificate(FACTS)
    text = pdf_text(pdf)
    for expected in (FACTS.holder, FACTS.organisation, FACTS.award, FACTS.serial, FACTS.code,
                     "X市教育局", "X市社区教育指导中心", "二〇二六年六月八日", FACTS.call_title,
                     "特发此证，以资鼓励"):
        assert expected in text
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (842, 595)
    assert len(pdf) < 120_000


def test_pdf_embeds_only_bundled_truetype_subsets() -> None:
    resources: Any = PdfReader(io.BytesIO(render_certificate(FACTS))).pages[0]["/Resources"]
    fonts = [font.get_object() for font in resources["/Font"].values()]
    assert fonts and all("Pingshen-Serif" in font["/BaseFont"] for font in fonts)  # no fallback
    assert all(font["/Subtype"] == "/Type0" for font in fonts)
    assert all(font["/DescendantFonts"][0]["/Subtype"] == "/CIDFontType2" for font in fonts)


def test_gbk_character_outside_gb2312_renders() -> None:
    assert "王喆" in pdf_text(render_certificate(make_facts(holder="王喆")))


def test_extension_b_character_prints_from_the_fallback_font() -> None:
    pdf = render_certificate(make_facts(holder="李𠇔"))
    assert "李𠇔" in pdf_text(pdf)
    resources: Any = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]
    names = {font.get_object()["/BaseFont"] for font in resources["/Font"].values()}
    assert any("Pingshen-Rare" in name for name in names)


def test_character_no_font_covers_is_refused_by_name() -> None:
    # U+30EDE (biang, CJK Extension G) is in none of the bundled fonts.
    with pytest.raises(MissingGlyphError) as caught:
        render_certificate(make_facts(holder="李\U00030EDE"))
    assert caught.value.chars == ("\U00030EDE",)
    assert str(caught.value) == "字体中缺少以下字符，无法生成证书：\U00030EDE (U+30EDE)"


def test_every_variable_field_is_checked() -> None:
    for field in ("holder", "organisation", "call_title", "award", "issuer", "programme_title"):
        with pytest.raises(MissingGlyphError, match=r"U\+30EDE"):
            render_html(make_facts(**{field: "X市\U00030EDE"}))


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "http://example.com",
    "https://example.com/font.ttf",
    "data:font/ttf;base64,AAEAAA==",
    f"{render.FONT_SCHEME}:../../../etc/passwd",
    f"{render.FONT_SCHEME}:/etc/passwd",
    "NotoSerifSC-Regular.ttf",
])
def test_url_fetcher_refuses_everything_but_bundled_fonts(url: str) -> None:
    with pytest.raises(ResourceRefusedError, match="refused"):
        render.url_fetcher().fetch(url)


@pytest.mark.parametrize("tag", [
    '<img src="file:///etc/passwd">',
    '<img src="http://example.com/x.png">',
    '<link rel="stylesheet" href="https://example.com/x.css">',
    '<div style="background: url(data:image/svg+xml,%3Csvg%3E%3C/svg%3E)">x</div>',
])
def test_a_stray_resource_stops_the_render_with_a_clear_error(
        tag: str, monkeypatch: pytest.MonkeyPatch) -> None:
    html = render_html(FACTS).replace("</body>", f"{tag}</body>")
    monkeypatch.setattr(render, "render_html", lambda facts: html)
    with pytest.raises(ResourceRefusedError, match="only bundled fonts"):
        render_certificate(FACTS)


def test_url_fetcher_serves_bundled_fonts() -> None:
    response = render.url_fetcher().fetch(f"{render.FONT_SCHEME}:{FONT_FACES[0].file}")
    assert response.read(4) == b"\x00\x01\x00\x00"


def test_markup_in_fields_is_printed_as_text_and_fetches_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fetcher = render.url_fetcher()  # builds the engine (fonts are fetched once, here)
    fetched: list[str] = []
    original = fetcher.fetch

    def spy(url: str, headers: object = None) -> Any:
        fetched.append(url)
        return original(url, headers)

    monkeypatch.setattr(fetcher, "fetch", spy)
    holder = "<img src=x>{{ config }}"
    facts = make_facts(holder=holder, organisation='<link rel="stylesheet" href="file:///x">')
    html = render_html(facts)
    assert "&lt;img src=x&gt;{{ config }}" in html
    assert "<img src=x" not in html and "<link" not in html
    text = pdf_text(render_certificate(facts))
    assert "<imgsrc=x>{{config}}" in text
    assert all(url.startswith("asset:") for url in fetched)  # the template's own images only


def test_a_template_naming_a_field_that_does_not_exist_is_refused() -> None:
    template = replace(FACTS.layout, key="broken", name="有误的模板",
                       html=FACTS.layout.html.replace("{{ holder }}", "{{ holder_name }}"))
    with pytest.raises(CertificateTemplateError) as caught:
        render_certificate(replace(FACTS, template=template))
    assert str(caught.value) == ("证书模板“有误的模板”有误：使用了不存在的字段“holder_name”"
                                 "（可用字段见 docs/certificates.md）")


def test_bold_is_used_only_where_the_bold_face_has_every_character() -> None:
    assert font_weight("荣誉证书", 700) == 700
    assert font_weight("喆誉证书", 700) == 400  # 喆 is not in the GB2312 Bold subset
    assert 'class="title regular"' in render_html(make_facts(title="喆誉证书"))


@pytest.mark.parametrize("changes", [
    {"verify_url": "javascript:alert(1)"},
    {"verify_url": "/verify/relative"},
    {"issuer": "  \n "},
    {"issuer": "甲\n乙\n丙\n丁"},
])
def test_bad_facts_are_refused(changes: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        render_html(make_facts(**changes))


@pytest.mark.parametrize(("day", "expected"), [
    (datetime.date(2026, 6, 8), "二〇二六年六月八日"),
    (datetime.date(2026, 10, 10), "二〇二六年十月十日"),
    (datetime.date(2026, 12, 31), "二〇二六年十二月三十一日"),
    (datetime.date(2026, 11, 20), "二〇二六年十一月二十日"),
    (datetime.date(2030, 1, 1), "二〇三〇年一月一日"),
    (datetime.date(2026, 2, 19), "二〇二六年二月十九日"),
])
def test_chinese_date(day: datetime.date, expected: str) -> None:
    assert chinese_date(day) == expected


def test_bundled_fonts_are_truetype_with_licence() -> None:
    assert (FONT_DIR / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE")
    for face in FONT_FACES:
        with TTFont(FONT_DIR / face.file, lazy=True) as font:
            assert "glyf" in font and "CFF " not in font
    main, rare = FONT_FACES[0], FONT_FACES[-1]
    with TTFont(FONT_DIR / main.file, lazy=True) as font:
        assert ord("喆") in font.getBestCmap() and 0x201D4 not in font.getBestCmap()
    with TTFont(FONT_DIR / rare.file, lazy=True) as font:
        assert 0x201D4 in font.getBestCmap()
    assert "Hanazono Font License" in (FONT_DIR / "HanaMinB-LICENSE.txt").read_text("utf-8")


def test_system_check_passes_here_and_names_missing_packages(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert [p for p in check_system_libraries() if p.startswith("error")] == []
    monkeypatch.setattr(render, "_LIBRARIES", (
        (("libpango-missing.so.0",), True, "libpango-1.0-0"),
        (("libharfbuzz-subset-missing.so.0",), False, "libharfbuzz-subset0"),
    ))
    problems = check_system_libraries()
    assert problems[0].startswith("error") and "libpango-1.0-0" in problems[0]
    assert problems[1].startswith("warning") and "libharfbuzz-subset0" in problems[1]
