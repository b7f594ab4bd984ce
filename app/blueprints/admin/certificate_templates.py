"""Certificate templates and issuer seals: list, edit, preview with sample data, upload images."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.admin.views import bp
from app.certificates.templates import CertificateTemplate, shipped_templates
from app.engine.errors import PingshenError
from app.extensions import db
from app.models import IssuerSeal, Role
from app.services.certificate_templates import (
    add_asset,
    all_templates,
    delete_seal,
    find_template,
    is_edited,
    preview,
    reset_template,
    save_seal,
    save_template,
)
from app.services.programmes import catalogue
from app.web.access import roles_required
from app.web.downloads import image_response, pdf_response
from app.web.outcomes import act_and_return, explain

LIST = "admin.certificate_templates"


@bp.route("/certificate-templates")
@roles_required(Role.CITY_ADMIN)
def certificate_templates() -> Any:
    """Every template with the programmes that use it, and the issuers' seals."""
    used: dict[str, list[str]] = {}
    for programme in catalogue().values():
        for level, key in ((programme.workflow["certificate"] or {}).get("template") or {}).items():
            label = programme.title if level == "default" else f"{programme.title}（{level}）"
            used.setdefault(key, []).append(label)
    seals = {seal.issuer: seal for seal in db.session.scalars(select(IssuerSeal))}
    issuers = list(dict.fromkeys([*_configured_issuers(), *seals]))
    templates = all_templates()
    known = {t.key for t in templates}
    return render_template("admin/certificate_templates.html", templates=templates, used=used,
                           missing=sorted(set(used) - known), issuers=issuers, seals=seals,
                           shipped=shipped_templates(), edited={t.key for t in templates
                                                                if is_edited(t.key)})


def _configured_issuers() -> list[str]:
    """The issuer lines printed on certificates (CERTIFICATE_ISSUER)."""
    return [line.strip() for line in current_app.config["CERTIFICATE_ISSUER"].splitlines()
            if line.strip()]


@bp.route("/certificate-templates/new", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def new_certificate_template() -> Any:
    """Start a new template as a copy of an existing one."""
    base = find_template(request.form.get("base", ""))
    if base is None:
        flash(_("Choose the template to start from."), "error")
        return redirect(url_for(LIST))
    key = request.form.get("key", "").strip()
    if find_template(key) is not None:
        flash(_("A template with the key %(key)s exists already.", key=key), "error")
        return redirect(url_for(LIST))
    try:
        save_template(key, request.form.get("name", ""), base.html, base.css, current_user,
                      base.description)
    except PingshenError as exc:
        db.session.rollback()
        flash(explain(exc), "error")
        return redirect(url_for(LIST))
    for name, body in base.assets:
        add_asset(key, name, body, current_user)
    db.session.commit()
    flash(_("Template %(key)s created: edit it below.", key=key), "success")
    return redirect(url_for("admin.certificate_template", key=key))


@bp.route("/certificate-templates/<key>", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def certificate_template(key: str) -> Any:
    """Edit a template's name, HTML and CSS; saved only if it renders with sample data."""
    template = _template_or_404(key)
    if request.method == "POST":
        return act_and_return(
            lambda: save_template(key, request.form.get("name", ""),
                                  request.form.get("html", ""), request.form.get("css", ""),
                                  current_user, request.form.get("description", "")),
            _("Template saved; certificates drawn from now on use it."),
            url_for("admin.certificate_template", key=key))
    return render_template("admin/certificate_template.html", template=template,
                           shipped=key in shipped_templates(), edited=is_edited(key))


@bp.route("/certificate-templates/<key>/preview", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def preview_certificate_template(key: str) -> Any:
    """The template filled with a sample certificate, as a PDF (POST: the unsaved edit)."""
    template = _template_or_404(key)
    if request.method == "POST":
        template = CertificateTemplate(key=key, name=request.form.get("name") or template.name,
                                       html=request.form.get("html", ""),
                                       css=request.form.get("css", ""), assets=template.assets)
    try:
        pdf, warnings = preview(template)
    except PingshenError as exc:
        return render_template("admin/template_preview_error.html", template=template,
                               message=exc.message), 422
    response = pdf_response(pdf, f"{key}-preview.pdf", inline=True)
    if warnings:  # e.g. CSS that WeasyPrint ignored: worth a look, not an error
        response.headers["X-Template-Warnings"] = " | ".join(warnings)[:2000]
    return response


@bp.route("/certificate-templates/<key>/reset", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def reset_certificate_template(key: str) -> Any:
    """Drop the stored version of a template (the shipped one comes back, if any)."""
    target = url_for("admin.certificate_template", key=key) if key in shipped_templates() \
        else url_for(LIST)
    return act_and_return(lambda: reset_template(key, current_user),
                          _("The stored version of the template is deleted."), target)


@bp.route("/certificate-templates/<key>/assets", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def upload_template_asset(key: str) -> Any:
    """Add or replace an image of the template."""
    _template_or_404(key)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose an image to upload."), "error")
        return redirect(url_for("admin.certificate_template", key=key))
    body = upload.read()
    return act_and_return(lambda: add_asset(key, upload.filename or "", body, current_user),
                          _("Image %(name)s saved.", name=upload.filename),
                          url_for("admin.certificate_template", key=key))


@bp.route("/seals", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def save_issuer_seal() -> Any:
    """Upload an issuer's seal image and/or set its signature line."""
    upload = request.files.get("image")
    image = upload.read() if upload is not None and upload.filename else None
    issuer = request.form.get("issuer", "")
    return act_and_return(lambda: save_seal(issuer, image, request.form.get("signature", ""),
                                            current_user),
                          _("Seal of %(issuer)s saved.", issuer=issuer), url_for(LIST))


@bp.route("/seals/<int:seal_id>/delete", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def delete_issuer_seal(seal_id: int) -> Any:
    """Remove an uploaded seal (the drawn seal is printed again)."""
    seal = db.get_or_404(IssuerSeal, seal_id)
    return act_and_return(lambda: delete_seal(seal, current_user),
                          _("Seal of %(issuer)s removed.", issuer=seal.issuer), url_for(LIST))


@bp.route("/seals/<int:seal_id>.png")
@roles_required(Role.CITY_ADMIN)
def seal_image(seal_id: int) -> Any:
    """The uploaded seal image (for the administrator's list)."""
    seal = db.get_or_404(IssuerSeal, seal_id)
    if seal.image is None:
        abort(404)
    return image_response(seal.image, "image/png")


def _template_or_404(key: str) -> CertificateTemplate:
    """The template ``key`` or a 404."""
    template = find_template(key)
    if template is None:
        abort(404)
    return template
