"""The security events page: logins, refusals, downloads and account changes, for the city."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.admin.audit import day_from
from app.blueprints.admin.views import bp
from app.extensions import db
from app.models import EventKind, Role, User
from app.services.security_events import EventFilter, events_query
from app.services.totp import disable_totp
from app.web.access import roles_required
from app.web.outcomes import act_and_return

PER_PAGE = 50


@bp.route("/security-events")
@roles_required(Role.CITY_ADMIN)
def security_events() -> Any:
    """The events, newest first, 50 a page, by kind, username and Beijing date, searched in
    the address, path and username (?q=)."""
    kind = request.args.get("kind", "")
    chosen = EventFilter(kind=kind if kind in set(EventKind) else "",
                         user=request.args.get("user", "").strip()[:80],
                         since=day_from(request.args.get("since")),
                         until=day_from(request.args.get("until")),
                         text=request.args.get("q", "").strip()[:100])
    page = db.paginate(events_query(chosen), per_page=PER_PAGE, error_out=False)
    return render_template("admin/security_events.html", page=page, chosen=chosen,
                           kinds=list(EventKind), labels=kind_labels())


@bp.route("/users/<int:user_id>/totp", methods=["POST"])
@roles_required(Role.CITY_ADMIN)
def user_totp_reset(user_id: int) -> Any:
    """Turn off someone's two-step verification (a lost phone); their sessions end."""
    user = db.get_or_404(User, user_id)
    if not user.has_totp and user.totp_secret is None:
        return redirect(url_for("admin.user_edit", user_id=user.id))
    return act_and_return(lambda: disable_totp(user, current_user),
                          _("Two-step verification of %(name)s is reset.", name=user.display_name),
                          url_for("admin.user_edit", user_id=user.id))


def kind_labels() -> dict[str, str]:
    """Each kind of event in the reader's language."""
    return {
        EventKind.LOGIN: _("Logged in"), EventKind.LOGIN_FAILED: _("Login failed"),
        EventKind.LOCKED_OUT: _("Locked out"), EventKind.LOGOUT: _("Logged out"),
        EventKind.PASSWORD_CHANGED: _("Password changed"),
        EventKind.PASSWORD_RESET: _("Password reset"),
        EventKind.TOTP_ENROLLED: _("Two-step verification on"),
        EventKind.TOTP_DISABLED: _("Two-step verification off"),
        EventKind.TOTP_RESET: _("Two-step verification reset"),
        EventKind.TOTP_FAILED: _("Wrong code"),
        EventKind.RECOVERY_CODE_USED: _("Recovery code used"),
        EventKind.REFUSED: _("Refused"), EventKind.DOWNLOAD: _("Download"),
        EventKind.TOKEN_CREATED: _("API token created"),
        EventKind.TOKEN_REVOKED: _("API token revoked"),
        EventKind.ACCOUNT_DISABLED: _("Account disabled"),
        EventKind.ACCOUNT_ENABLED: _("Account enabled"),
        EventKind.ROLE_CHANGED: _("Role changed"),
    }
