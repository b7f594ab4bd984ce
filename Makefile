# Pingshen — `make run` to try it, `make test` to test it. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi.py

.PHONY: run test lint load bench syscheck install migrate demo translations i18n-update clean

run: install migrate
	@$(BIN)/flask demo load --if-empty
	@echo ""
	@echo "Pingshen is running at http://127.0.0.1:5000  (Ctrl+C to stop)"
	@echo "Demo logins (password pingshen-demo): city, wj_admin, hutang, expert1 — see README.md"
	@# The background worker (certificates in bulk) runs beside the web server and stops with it.
	@$(BIN)/flask jobs worker & trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
		$(BIN)/flask run --host 127.0.0.1 --port 5000

# The suite runs in parallel (pytest-xdist): `-n auto` starts one worker per CPU the process may
# use (2 on CI's machine; tests/worker_database.py gives each its own PostgreSQL database).
# worksteal: a worker that runs out of tests takes queued ones from the other, so the few sweeps
# of several minutes each (tests/security, tests/api/test_schemathesis.py) do not leave one
# worker idle at the end. `.venv/bin/pytest` alone still runs everything in one process.
test: install
	$(BIN)/pytest -q -n auto --dist worksteal

lint: install
	$(BIN)/ruff check app tests bench tools
	$(BIN)/mypy

# The load test (bench/load/): a fresh instance served by gunicorn on loopback, 50 users of every
# role for 5 minutes, then a check that the database holds exactly what was acknowledged.
# SQLite by default; LOAD_DATABASE_URL=postgresql+psycopg://... for a throwaway PostgreSQL
# database (its public schema is dropped). Not part of `make test` or CI.
load: install
	$(BIN)/pip install --quiet -e '.[load]'
	$(BIN)/python bench/load/run.py

# The scale benchmark (bench/run.py, issue 8): seeds 1,000 and 10,000 entries, drives every main
# page under gunicorn with wrk against a minimal Flask floor, the bulk transition and ranking of a
# 10,000-entry call against their SQL floors, workers' memory; writes bench/results.json. About
# half an hour; needs wrk (Debian package). BENCH_DATABASE_URL=postgresql+psycopg://... for a
# throwaway PostgreSQL database (its public schema is dropped). Not part of `make test` or CI.
bench: install
	@command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install wrk"; exit 1; }
	$(BIN)/python bench/run.py $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL))

syscheck:
	@$(PYTHON) tools/syscheck.py

install: $(STAMP) translations

$(STAMP): pyproject.toml
	@$(PYTHON) tools/syscheck.py
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,prod]'
	@touch $(STAMP)

translations: $(STAMP)
	@$(BIN)/pybabel compile -d app/translations -D messages > /dev/null
	@$(BIN)/pybabel compile -d app/translations -D server > /dev/null

# After changing UI strings or server messages: refresh the catalogues, translate the new entries
# (UI: English msgids -> zh/messages.po; server messages, zh("...") and zh_mark("..."):
# Chinese msgids -> en/server.po),
# commit the .po files.
i18n-update: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		-o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching \
		--width 100
	$(BIN)/pybabel extract -F babel.cfg --no-default-keywords -k zh -k zh_mark --no-location \
		--sort-output -o app/translations/server.pot .
	$(BIN)/pybabel update -i app/translations/server.pot -d app/translations -D server \
		--no-fuzzy-matching --width 100

migrate: install
	$(BIN)/flask db upgrade
	$(BIN)/flask workflows sync

demo: install
	$(BIN)/flask demo load

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
