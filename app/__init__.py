"""Pingshen: a definition-driven workflow and approval engine for an education bureau."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application: config, extensions, definitions, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=False)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable in JSON
    from app.routing import IdConverter

    app.url_map.converters["int"] = IdConverter
    app.config.from_object("app.config.Config")
    if config:
        app.config.update(config)
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]

    from app import extensions, i18n, jobs, security
    from app.extensions import db

    db.init_app(app)
    extensions.migrate.init_app(app, db, directory=str(_root() / "migrations"),
                                render_as_batch=True, compare_type=True)
    extensions.csrf.init_app(app)
    extensions.babel.init_app(app, locale_selector=i18n.select_locale)
    security.init_app(app)
    jobs.init_app(app)

    from app.engine.loader import load_catalogue
    from app.services.programmes import CATALOGUE

    app.extensions[CATALOGUE] = load_catalogue(app.config["WORKFLOWS_DIR"],
                                               app.config["FORMS_DIR"])

    from app.blueprints import register_blueprints
    from app.cli import register_cli
    from app.web.filters import register_filters

    register_blueprints(app)
    register_filters(app)
    register_cli(app)
    return app


def _root():  # type: ignore[no-untyped-def]
    """The repository root (where migrations/ lives)."""
    from app.config import ROOT

    return ROOT
