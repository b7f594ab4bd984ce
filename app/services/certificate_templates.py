"""Certificate templates and seals kept by administrators: choose, edit, preview, upload.

A programme names its template per award level (``certificate.template`` in the workflow); the
key is looked up among the templates stored here first, then among the shipped ones. A template
is saved only if it renders with the sample certificate, so a broken one never reaches issuing.
"""

from __future__ import annotations

import datetime
import io

from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from app.certificates.render import (
    CertificateFacts,
    CertificateTemplateError,
    IssuerMark,
    MissingGlyphError,
    ResourceRefusedError,
    preview_certificate,
)
from app.certificates.templates import (
    ASSET_PATTERN,
    KEY_PATTERN,
    CertificateTemplate,
    shipped_templates,
)
from app.engine.definitions import Programme
from app.engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.extensions import db
from app.i18n import joined, zh
from app.models import IssuerSeal, Role, StoredTemplate, TemplateAsset, User

MAX_SOURCE = 200_000  # characters of HTML or CSS
MAX_ASSET = 2 * 1024 * 1024
SEAL_PIXELS = 600  # a 40 mm seal at ~380 dpi: sharp in print, small in the PDF


def template_for(programme: Programme, award: str) -> CertificateTemplate:
    """The template a certificate of ``programme`` at ``award`` is printed with."""
    settings = programme.workflow["certificate"] or {}
    chosen = settings.get("template") or {"default": "landscape"}
    key = chosen.get(award, chosen["default"])
    template = find_template(key)
    if template is None:
        raise Conflict(zh("项目“%(title)s”的证书模板“%(key)s”不存在，请先在证书模板中添加",
                          title=programme.title, key=key),
                       {"template": key})
    return template


def find_template(key: str) -> CertificateTemplate | None:
    """The stored template ``key``, else the shipped one, else None."""
    row = db.session.scalar(select(StoredTemplate).where(StoredTemplate.key == key))
    return _from_row(row) if row is not None else shipped_templates().get(key)


def all_templates() -> list[CertificateTemplate]:
    """Every template by key: stored ones replace shipped ones with the same key."""
    templates = dict(shipped_templates())
    for row in db.session.scalars(select(StoredTemplate)):
        templates[row.key] = _from_row(row)
    return [templates[key] for key in sorted(templates)]


def is_edited(key: str) -> bool:
    """Whether a shipped template has been replaced by a stored one."""
    return key in shipped_templates() and db.session.scalar(
        select(StoredTemplate.id).where(StoredTemplate.key == key)) is not None


def _from_row(row: StoredTemplate) -> CertificateTemplate:
    """A stored template; it keeps the shipped images of its key unless it replaced them."""
    shipped = shipped_templates().get(row.key)
    assets = dict(shipped.assets) if shipped else {}
    assets.update({asset.name: asset.body for asset in row.assets})
    return CertificateTemplate(key=row.key, name=row.name, description=row.description,
                               html=row.html, css=row.css, assets=tuple(sorted(assets.items())),
                               name_en=shipped.name_en if shipped else "")


def issuer_marks() -> tuple[IssuerMark, ...]:
    """Every issuer's uploaded seal and signature line."""
    return tuple(IssuerMark(seal.issuer, seal.image, seal.signature)
                 for seal in db.session.scalars(select(IssuerSeal).order_by(IssuerSeal.issuer)))


def sample_facts(template: CertificateTemplate) -> CertificateFacts:
    """A realistic certificate to preview a template with (rare name characters included)."""
    return CertificateFacts(
        serial="YXTD-2026-0128", code="示例验证码-Ab3dE5fG7hJ9kL1mN3pQ", holder="王喆",
        organisation="X市湖塘街道社区教育中心", programme_title="社区教育优秀团队遴选",
        call_title="2026年度X市社区教育优秀团队遴选", award="优秀团队",
        issuer=current_app.config["CERTIFICATE_ISSUER"], issued_on=datetime.date(2026, 6, 8),
        verify_url="https://pingshen.example.gov.cn/verify/Ab3dE5fG7hJ9kL1mN3pQ",
        text=("在2026年度X市社区教育优秀团队遴选中表现突出，被评为“优秀团队”。",
              "特发此证，以资鼓励。"),
        title="荣誉证书", template=template, marks=issuer_marks())


def preview(template: CertificateTemplate) -> tuple[bytes, list[str]]:
    """Render ``template`` with the sample certificate: the PDF and WeasyPrint's warnings.

    Raises ValidationFailed with the reason when it cannot be rendered (unknown field, a
    resource from outside, more than one page).
    """
    try:
        return preview_certificate(sample_facts(template))
    except (CertificateTemplateError, ResourceRefusedError, MissingGlyphError) as exc:
        raise ValidationFailed(str(exc), {"template": str(exc)}) from None


def save_template(key: str, name: str, html: str, css: str, actor: User,
                  description: str = "") -> StoredTemplate:
    """Store a new or edited template after it rendered with the sample certificate."""
    _require_city(actor)
    key, name = key.strip(), name.strip()
    problems = {}
    if not KEY_PATTERN.fullmatch(key):
        problems["key"] = zh("模板代码应为 2–40 位小写字母、数字、- 或 _，以字母开头")
    if not name or len(name) > 100:
        problems["name"] = zh("请填写模板名称（不超过 100 字）")
    for field, source in (("html", html), ("css", css)):
        if len(source) > MAX_SOURCE:
            problems[field] = zh("不能超过 %(max_source)s 个字符", max_source=MAX_SOURCE)
    if not html.strip():
        problems["html"] = zh("请填写模板 HTML")
    if problems:
        raise ValidationFailed(zh("证书模板未保存：%(problems)s",
                                  problems=joined(problems.values(), "；")), problems)
    row = db.session.scalar(select(StoredTemplate).where(StoredTemplate.key == key))
    current = _from_row(row) if row is not None else shipped_templates().get(key)
    candidate = CertificateTemplate(key=key, name=name, html=html, css=css,
                                    assets=current.assets if current else ())
    preview(candidate)  # refuse what does not render
    if row is None:
        row = StoredTemplate(key=key, name=name, html=html, css=css)
        db.session.add(row)
    row.name, row.html, row.css, row.description = name, html, css, description.strip()
    row.updated_by_id = actor.id
    db.session.flush()
    return row


def reset_template(key: str, actor: User) -> None:
    """Delete a stored template (a shipped one with its key comes back)."""
    _require_city(actor)
    row = db.session.scalar(select(StoredTemplate).where(StoredTemplate.key == key))
    if row is None:
        raise NotFound(zh("没有保存过这个模板"), {"key": key})
    db.session.delete(row)
    db.session.flush()


def add_asset(key: str, filename: str, body: bytes, actor: User) -> TemplateAsset:
    """Add or replace an image of a template (``asset:<filename>`` in its HTML or CSS)."""
    _require_city(actor)
    template = find_template(key)
    if template is None:
        raise NotFound(zh("模板不存在"), {"key": key})
    if not ASSET_PATTERN.fullmatch(filename):
        raise ValidationFailed(zh("图片文件名只能含字母、数字、点、- 和 _，扩展名为 png、jpg 或 "
                                  "svg"),
                               {"file": filename[:80]})
    _check_image(filename, body)
    row = db.session.scalar(select(StoredTemplate).where(StoredTemplate.key == key))
    if row is None:  # first change to a shipped template: store a copy to hold the image
        row = StoredTemplate(key=key, name=template.name, html=template.html, css=template.css,
                             description=template.description, updated_by_id=actor.id)
        db.session.add(row)
    asset = next((a for a in row.assets if a.name == filename), None)
    if asset is None:
        asset = TemplateAsset(name=filename, body=body)
        row.assets.append(asset)
    asset.body = body
    db.session.flush()
    return asset


def _check_image(filename: str, body: bytes) -> None:
    """Refuse files that are too large or not the image their name says."""
    if not body or len(body) > MAX_ASSET:
        raise ValidationFailed(zh("图片不能为空，且不超过 2 MB"), {"file": filename})
    if filename.lower().endswith(".svg"):
        head = body[:2000].decode("utf-8", "replace")
        if "<svg" not in head:
            raise ValidationFailed(zh("这不是 SVG 图片"), {"file": filename})
        return
    try:
        with Image.open(io.BytesIO(body)) as image:
            image.verify()
            kind = image.format
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ValidationFailed(zh("无法识别该图片，请上传 PNG、JPEG 或 SVG"),
                               {"file": filename}) from None
    expected = "PNG" if filename.lower().endswith(".png") else "JPEG"
    if kind != expected:
        raise ValidationFailed(zh("文件内容是 %(kind)s，与扩展名不符",
                                  kind=kind), {"file": filename})


def save_seal(issuer: str, image: bytes | None, signature: str, actor: User) -> IssuerSeal:
    """Store an issuer's seal (a PNG with a transparent background) and signature line."""
    _require_city(actor)
    issuer, signature = issuer.strip(), signature.strip()
    if not issuer or len(issuer) > 200:
        raise ValidationFailed(zh("请填写落款单位（不超过 200 字）"), {"issuer": zh("必填")})
    if len(signature) > 100:
        raise ValidationFailed(zh("签名行不能超过 100 字"), {"signature": zh("过长")})
    seal = db.session.scalar(select(IssuerSeal).where(IssuerSeal.issuer == issuer))
    if seal is None:
        seal = IssuerSeal(issuer=issuer)
        db.session.add(seal)
    if image is not None:
        seal.image = seal_png(image)
    if seal.image is None and not signature:
        raise ValidationFailed(zh("请上传印章图片或填写签名行"), {"image": zh("必填")})
    seal.signature, seal.updated_by_id = signature, actor.id
    db.session.flush()
    return seal


def seal_png(data: bytes) -> bytes:
    """Check that ``data`` is a PNG with transparency and return it at most SEAL_PIXELS wide."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise ValidationFailed(zh("印章图片须为 PNG 格式"), {"image": image.format or "?"})
            image.load()
            transparent = image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info)
            if not transparent:
                raise ValidationFailed(zh("印章图片须为透明背景的 PNG（当前图片没有透明通道，"
                                       "打印时会遮住文字）"), {"image": image.mode})
            seal = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ValidationFailed(zh("无法识别该图片，请上传 PNG"), {"image": "invalid"}) from None
    if max(seal.size) > SEAL_PIXELS:
        seal.thumbnail((SEAL_PIXELS, SEAL_PIXELS), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    seal.save(out, format="PNG", optimize=True)
    return out.getvalue()


def delete_seal(seal: IssuerSeal, actor: User) -> None:
    """Remove an issuer's seal image and signature line (the drawn seal comes back)."""
    _require_city(actor)
    db.session.delete(seal)
    db.session.flush()


def _require_city(actor: User) -> None:
    """Templates and seals are the city's."""
    if actor.role != Role.CITY_ADMIN:
        raise Forbidden(zh("只有市级管理员可以管理证书模板和印章"))

