# Two commands on a fresh machine with Python 3.11+ and make:  make run  /  make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench mutate serve-production clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

## Serve the app with demo data on http://127.0.0.1:8000 (/admin/, /api/, /api/docs/)
run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_setup
	$(PY) manage.py runserver 127.0.0.1:8000

## Run the whole test suite (embedded PostgreSQL unless DATABASE_URL is set), then the read-side
## and command-side tests again with the incremental strategy
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)
	READ_MODEL_REFRESH=incremental $(PY) -m pytest $(PYTEST_ARGS) tests/reporting tests/orders tests/test_security.py tests/test_end_to_end_http.py

## Production: gunicorn + WhiteNoise. Needs DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS (and DATABASE_URL).
serve-production: $(STAMP)
	DJANGO_DEBUG=0 $(PY) manage.py check --deploy --fail-level WARNING
	DJANGO_DEBUG=0 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=0 $(PY) manage.py collectstatic --noinput
	DJANGO_DEBUG=0 $(VENV)/bin/gunicorn config.wsgi --bind $${BIND:-0.0.0.0:8000} --workers $${WORKERS:-3}

## Benchmarks (not part of make test): 10k and 100k orders; BENCH_ARGS=--full adds 1M
bench: $(STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

## Mutation testing (not part of make test): cosmic-ray over the modules that carry the guarantees,
## each against the tests that cover it; writes docs/mutation-report.md. MUTATE_ARGS=<module ...>
mutate: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench,mutate]'
	$(PY) -m mutation.run $(MUTATE_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
