"""Blueprints: one package per audience, each with its views."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Register every blueprint of the app under its prefix."""
    from app.blueprints.admin.views import bp as admin
    from app.blueprints.api.views import bp as api
    from app.blueprints.applicant.views import bp as applicant
    from app.blueprints.applications.views import bp as applications
    from app.blueprints.auth.views import bp as auth
    from app.blueprints.district.views import bp as district
    from app.blueprints.inbox.views import bp as inbox
    from app.blueprints.public.views import bp as public
    from app.blueprints.reviewer.views import bp as reviewer

    app.register_blueprint(auth)
    app.register_blueprint(public)
    for blueprint, prefix in ((applicant, "/my"), (district, "/district"), (admin, "/admin"),
                              (reviewer, "/reviews"), (applications, "/applications"),
                              (inbox, "/inbox"), (api, "/api/v1")):
        app.register_blueprint(blueprint, url_prefix=prefix)
