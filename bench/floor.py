"""The floor for the page benchmark: the least a Flask page over this database can cost.

A minimal Flask + Flask-SQLAlchemy app with one route that reads 50 entries of a call (with
their unit's name) from the same database the benchmarked app uses, and renders them as an HTML
table with a Jinja template. No login, no session, no CSRF, no translations, no layout.
Served by gunicorn exactly as the app is: ``gunicorn --workers 2 bench.floor:app`` with
``DATABASE_URL`` set (``bench/pages.py`` starts it).
"""

from __future__ import annotations

import os

from flask import Flask, render_template, request
from flask_sqlalchemy import SQLAlchemy
from jinja2 import DictLoader
from sqlalchemy import text

db = SQLAlchemy()

TABLE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>申报列表</title>
</head><body><table><thead><tr><th>编号</th><th>名称</th><th>单位</th><th>状态</th><th>提交时间</th>
</tr></thead><tbody>{% for row in rows %}<tr><td>{{ row.id }}</td><td>{{ row.title }}</td>
<td>{{ row.unit }}</td><td>{{ row.state }}</td><td>{{ row.submitted_at }}</td></tr>{% endfor %}
</tbody></table></body></html>"""

ROWS = text("""SELECT a.id, a.title, o.name AS unit, a.state, a.submitted_at
FROM applications a JOIN organisations o ON o.id = a.org_id
WHERE a.call_id = :call ORDER BY a.id LIMIT 50 OFFSET :offset""")


def create_floor() -> Flask:
    """The floor app on DATABASE_URL."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    app.jinja_loader = DictLoader({"table.html": TABLE})  # compiled once, as files are
    db.init_app(app)

    @app.get("/")
    def table() -> str:
        rows = db.session.execute(ROWS, {"call": request.args.get("call", 1, type=int),
                                         "offset": request.args.get("offset", 50, type=int)})
        return render_template("table.html", rows=rows.all())

    return app


app = create_floor()
