"""Certificate templates as data: the shipped layouts, choosing one per award level, editing and
previewing with sample data, what an uploaded template cannot reach, seals and signature lines."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from app.certificates.render import CertificateTemplateError, render_certificate, render_html
from app.certificates.templates import shipped_templates
from app.engine.errors import Conflict, Forbidden, ValidationFailed
from app.extensions import db
from app.models import Certificate, IssuerSeal, StoredTemplate
from app.services.certificate_jobs import start_issue_job
from app.services.certificate_templates import (
    add_asset,
    preview,
    sample_facts,
    save_seal,
    save_template,
    template_for,
)
from app.services.certificates import pdf_path
from app.services.programmes import current_programme
from tests.certificates.test_render import pdf_text
from tests.conftest import csrf_from, login

LANDSCAPE = shipped_templates()["landscape"]


def _png(mode: str = "RGBA", size: tuple[int, int] = (300, 300)) -> bytes:
    """A red disc on a transparent (RGBA) or white (RGB) square."""
    image = Image.new(mode, size, (0, 0, 0, 0) if mode == "RGBA" else (255, 255, 255))
    for x in range(size[0]):
        for y in range(size[1]):
            if (x - size[0] / 2) ** 2 + (y - size[1] / 2) ** 2 < (size[0] / 2.2) ** 2:
                image.putpixel((x, y), (190, 20, 28, 255) if mode == "RGBA" else (190, 20, 28))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("key", sorted(shipped_templates()))
def test_every_shipped_template_prints_the_facts_on_one_page(app, key):
    facts = replace(sample_facts(shipped_templates()[key]), title="结项证书")
    pdf = render_certificate(facts)
    text = pdf_text(pdf)
    for expected in ("王喆", "优秀团队", "YXTD-2026-0128", "X市教育局", "X市社区教育指导中心"):
        assert expected in text, (key, expected)
    assert ("二〇二六年六月" in text) and len(pdf) < 60_000
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    landscape = page.mediabox.width > page.mediabox.height
    assert landscape == (key != "portrait")


def test_the_programme_chooses_the_template_and_a_missing_one_refuses_to_issue(app, world):
    programme = current_programme("excellent_team")
    assert template_for(programme, "优秀团队").key == "landscape"
    settings = programme.workflow["certificate"]
    original = settings["template"]
    try:
        settings["template"] = {"default": "landscape", "一等奖": "portrait", "特等奖": "gold"}
        assert template_for(programme, "一等奖").key == "portrait"
        assert template_for(programme, "二等奖").key == "landscape"
        with pytest.raises(Conflict, match="证书模板“gold”不存在"):
            template_for(programme, "特等奖")
    finally:
        settings["template"] = original


def test_an_edited_template_is_used_for_the_next_certificates(world, awarded):
    city = world["users"]["city"]
    html = LANDSCAPE.html.replace("扫码验证真伪", "扫码核验·本市证书")
    save_template("landscape", "横版证书（本局版）", html, LANDSCAPE.css, city)
    db.session.commit()
    awarded(1)
    start_issue_job(world["call"], city)
    db.session.commit()
    certificate = db.session.scalar(select(Certificate))
    assert "扫码核验·本市证书" in pdf_text(pdf_path(certificate).read_bytes())


@pytest.mark.parametrize(("html", "css", "message"), [
    ("<p>{{ config }}</p>", "", "使用了不存在的字段“config”"),
    ("<p>{{ holder.__class__.__mro__ }}</p>", "", "模板试图访问不允许的内容"),
    ("<p>{{ request.environ }}</p>", "", "使用了不存在的字段“request”"),
    ("<p>{% for x in () %}</p>", "", "证书模板“测试”有误"),
    ('<img src="file:///etc/passwd">', "", "refused to load 'file:///etc/passwd'"),
    ('<img src="http://example.com/seal.png">', "", "refused to load 'http://example.com"),
    ('<link rel="attachment" href="file:///etc/passwd"><p>x</p>', "", "refused to load"),
    ('<link rel="stylesheet" href="https://example.com/x.css"><p>x</p>', "", "refused to load"),
    ("<p>x</p>", "@import url(file:///etc/passwd);", "refused to load"),
    ("<p>x</p>", "body { background: url(https://example.com/bg.png) }", "refused to load"),
    ('<img src="asset:../../../etc/passwd">', "", "refused to load 'asset:../../../etc/passwd'"),
    ("<p>x</p>" * 400, "", "排版后为"),  # more than one page
])
def test_a_template_that_reaches_outside_or_breaks_is_refused_and_not_stored(
        world, html, css, message):
    with pytest.raises(ValidationFailed) as refused:
        save_template("custom", "测试", html, css, world["users"]["city"])
    assert message in refused.value.message
    db.session.rollback()
    assert db.session.scalar(select(func.count(StoredTemplate.id))) == 0


def test_field_values_cannot_escape_their_attribute_or_element(app):
    template = replace(LANDSCAPE, key="attr", html=LANDSCAPE.html.replace(
        '<p class="hint">', '<p class="hint" title="{{ holder }}">'))
    holder = '" style="background:url(file:///etc/passwd)"><img src="http://example.com/x.png'
    facts = replace(sample_facts(template), holder=holder)
    html = render_html(facts)
    assert 'title="&#34; style=&#34;background:url(file:///etc/passwd)&#34;&gt;&lt;img' in html
    assert pdf_text(render_certificate(facts)).count("file:///etc/passwd") == 1  # as text


def test_only_the_city_edits_templates_and_seals(world):
    for name in ("wj_admin", "expert1", "wj1"):
        with pytest.raises(Forbidden):
            save_template("custom", "测试", "<p>{{ holder }}</p>", "", world["users"][name])
        with pytest.raises(Forbidden):
            save_seal("X市教育局", _png(), "", world["users"][name])


def test_a_transparent_seal_is_printed_as_an_image_with_its_signature_line(world, awarded):
    city = world["users"]["city"]
    save_seal("X市教育局", _png(size=(1200, 1200)), "负责人：", city)
    db.session.commit()
    seal = db.session.scalar(select(IssuerSeal))
    with Image.open(io.BytesIO(seal.image)) as stored:
        assert stored.size == (600, 600) and stored.mode == "RGBA"  # downscaled once
    awarded(1)
    start_issue_job(world["call"], city)
    db.session.commit()
    certificate = db.session.scalar(select(Certificate))
    pdf = pdf_path(certificate).read_bytes()
    assert "负责人：" in pdf_text(pdf)
    resources: Any = PdfReader(io.BytesIO(pdf)).pages[0]["/Resources"]
    images = [x.get_object() for x in resources["/XObject"].values()
              if x.get_object()["/Subtype"] == "/Image"]
    assert any(int(image["/Width"]) == 600 for image in images)


@pytest.mark.parametrize(("data", "message"), [
    (_png("RGB"), "须为透明背景的 PNG"),
    (b"GIF89a not a png", "无法识别该图片"),
])
def test_a_seal_without_transparency_or_not_a_png_is_refused(world, data, message):
    with pytest.raises(ValidationFailed, match=message):
        save_seal("X市教育局", data, "", world["users"]["city"])


def test_template_images_must_be_what_their_name_says(world):
    city = world["users"]["city"]
    with pytest.raises(ValidationFailed, match="无法识别该图片"):
        add_asset("landscape", "paper.png", b"<svg></svg>", city)
    with pytest.raises(ValidationFailed, match="文件名"):
        add_asset("landscape", "../paper.png", _png(), city)
    add_asset("landscape", "paper.png", _png(), city)
    db.session.commit()
    template = db.session.scalar(select(StoredTemplate))
    assert template.key == "landscape"
    assert {a.name for a in template.assets} == {"paper.png"}
    pdf, _warnings = preview(template_for(current_programme("excellent_team"), "优秀团队"))
    assert pdf.startswith(b"%PDF")


def test_preview_of_a_broken_edit_shows_the_error_and_saves_nothing(world, client):
    login(client, "city")
    page = client.get("/admin/certificate-templates/landscape").get_data(as_text=True)
    assert "横版证书（A4）" in page and "asset:corner.svg" in page
    response = client.post("/admin/certificate-templates/landscape/preview",
                           data={"csrf_token": csrf_from(page), "name": "横版",
                                 "html": "<p>{{ holder_name }}</p>", "css": ""})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "预览失败" in body and "使用了不存在的字段“holder_name”" in body
    good = client.post("/admin/certificate-templates/landscape/preview",
                       data={"csrf_token": csrf_from(page), "name": "横版",
                             "html": "<p>{{ holder }}</p>", "css": ""})
    assert good.mimetype == "application/pdf" and "王喆" in pdf_text(good.data)
    refused = client.post("/admin/certificate-templates/landscape",
                          data={"csrf_token": csrf_from(page), "name": "横版",
                                "html": "<p>{{ holder_name }}</p>", "css": ""},
                          follow_redirects=True)
    assert "使用了不存在的字段“holder_name”" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count(StoredTemplate.id))) == 0


def test_the_templates_page_lists_layouts_users_and_seals(world, client):
    login(client, "city")
    page = client.get("/admin/certificate-templates").get_data(as_text=True)
    for name in ("横版证书（A4）", "竖版证书（A4）", "结项证书（A4 横版）", "牌匾文字稿"):
        assert name in page
    assert "社区教育优秀团队遴选" in page  # the programme that uses landscape
    assert "X市社区教育指导中心" in page and "签名行" in page
    token = csrf_from(page)
    response = client.post("/admin/seals", data={
        "csrf_token": token, "issuer": "X市教育局", "signature": "局长：",
        "image": (io.BytesIO(_png()), "seal.png")}, follow_redirects=True)
    assert "已保存" in response.get_data(as_text=True)
    seal = db.session.scalar(select(IssuerSeal))
    assert seal.signature == "局长："
    assert client.get(f"/admin/seals/{seal.id}.png").mimetype == "image/png"


def test_a_template_error_refuses_issuing(world, awarded):
    city = world["users"]["city"]
    db.session.add(StoredTemplate(key="landscape", name="坏模板",
                                  html="<p>{{ text[5] }}</p>", css=""))
    db.session.commit()
    awarded(1)
    with pytest.raises(CertificateTemplateError):
        render_certificate(replace(sample_facts(shipped_templates()["landscape"]),
                                   template=template_for(current_programme("excellent_team"),
                                                         "优秀团队")))
    job = start_issue_job(world["call"], city)
    db.session.commit()
    db.session.refresh(job)
    assert job.status == "failed" and "坏模板" in job.error
    assert db.session.scalar(select(func.count(Certificate.id))) == 0
