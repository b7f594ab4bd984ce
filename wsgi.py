"""WSGI entry point: `gunicorn wsgi:app` in production; `flask` commands load it too."""

import sys

from app import create_app
from app.engine.errors import DefinitionError

try:
    app = create_app()
except DefinitionError as exc:  # a broken programme file: list every problem, no traceback
    for problem in exc.problems:
        print(problem, file=sys.stderr)
    sys.exit(f"{len(exc.problems)} problem(s) in the definitions; fix them and start again")
