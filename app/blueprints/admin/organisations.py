"""The organisation tree for the city administrator: see it, add to it, rename and move nodes."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.blueprints.admin.people_forms import NewOrganisationForm, OrganisationForm, kind_label
from app.blueprints.admin.views import bp
from app.engine.errors import NotFound, PingshenError
from app.extensions import db
from app.i18n import zh
from app.models import Organisation, Role
from app.services.accounts import add_organisation
from app.services.people import move_organisation, organisation_tree, rename_organisation
from app.web.access import roles_required
from app.web.outcomes import explain


@bp.route("/organisations", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def organisations() -> Any:
    """The whole tree with each node's users counted, and the form to add a node."""
    form = NewOrganisationForm()
    if form.validate_on_submit():
        try:
            org = add_organisation(form.code.data.strip(), form.name.data.strip(),
                                   form.kind.data or "", (form.parent.data or "").strip() or None)
        except PingshenError as exc:
            db.session.rollback()
            flash(explain(exc), "error")
        else:
            db.session.commit()
            flash(_("%(name)s has been added.", name=org.name), "success")
            return redirect(url_for("admin.organisations") + f"#org-{org.id}")
    return render_template("admin/organisations.html", rows=organisation_tree(), form=form,
                           kind_label=kind_label), 422 if request.method == "POST" else 200


@bp.route("/organisations/<int:org_id>", methods=["GET", "POST"])
@roles_required(Role.CITY_ADMIN)
def organisation_edit(org_id: int) -> Any:
    """Rename an organisation, or move it (with everything below it) to another parent."""
    org = db.get_or_404(Organisation, org_id)
    form = OrganisationForm(obj=org) if request.method == "GET" else OrganisationForm()
    if request.method == "GET":
        form.parent.data = org.parent.code if org.parent else ""
    if form.validate_on_submit():
        try:
            rename_organisation(org, form.name.data or "")
            _move(org, (form.parent.data or "").strip())
        except PingshenError as exc:
            db.session.rollback()
            flash(explain(exc), "error")
        else:
            db.session.commit()
            flash(_("%(name)s is saved.", name=org.name), "success")
            return redirect(url_for("admin.organisations") + f"#org-{org.id}")
    return render_template("admin/organisation.html", org=org, form=form,
                           kind_label=kind_label), 422 if request.method == "POST" else 200


def _move(org: Organisation, parent_code: str) -> None:
    """Move ``org`` under the organisation with this code, if it is not there already."""
    current = org.parent.code if org.parent else ""
    if parent_code == current:
        return
    parent = db.session.scalar(select(Organisation).filter_by(code=parent_code)) \
        if parent_code else None
    if parent_code and parent is None:
        raise NotFound(zh("上级机构不存在：%(parent_code)s",
                          parent_code=parent_code), {"parent": parent_code})
    move_organisation(org, parent)
