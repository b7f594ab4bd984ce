"""Blueprints: one package per audience, each with its views."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Register every blueprint of the app."""
    from app.blueprints.auth.views import bp as auth
    from app.blueprints.public.views import bp as public

    for blueprint in (auth, public):
        app.register_blueprint(blueprint)
    _register_optional(app)


def _register_optional(app: Flask) -> None:
    """Register the blueprints that exist (they are added feature by feature)."""
    import importlib

    for name, prefix in (("applicant", "/my"), ("district", "/district"), ("admin", "/admin"),
                         ("reviewer", "/reviews"), ("applications", "/applications"),
                         ("inbox", "/inbox"), ("api", "/api/v1")):
        try:
            module = importlib.import_module(f"app.blueprints.{name}.views")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"app.blueprints.{name}"):
                continue
            raise
        app.register_blueprint(module.bp, url_prefix=prefix)
