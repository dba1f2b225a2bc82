# Developer and CI entry points. Every target that runs project code depends on `venv`,
# so a fresh checkout needs only `make demo` or `make test`.

PYTHON ?= python3
# The second virtualenv: the newest Django (6.1) on the newest Python the project supports.
# pyenv's own 3.13 when it has one (its python3.13 shim runs only the pyenv version in use),
# else python3.13 from PATH.
PYTHON_DJANGO6 ?= $(or $(lastword $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.13*/bin/python3.13)),python3.13)
VENV := .venv
PY := $(VENV)/bin/python
# Re-install when the packaging metadata changes.
STAMP := $(VENV)/.installed-stamp
VENV_DJANGO6 := .venv-dj6
STAMP_DJANGO6 := $(VENV_DJANGO6)/.installed-stamp
# sqlite, postgresql, mariadb, or several separated by spaces; empty means all three.
DB ?=

.PHONY: help venv venv-django6 demo test test-django6 docs build wheel-check typecheck migrations-check clean downstream downstream-esi

help:
	@echo "make demo              the demo site on http://127.0.0.1:8000 (emulator on :8001), seeded; admin/admin"
	@echo "make demo DEMO_PORT=8100 DEMO_EMULATOR_PORT=8101   other ports"
	@echo "make test              test suite on SQLite, PostgreSQL and MariaDB (with Redis)"
	@echo "make test DB=sqlite    one backend (sqlite, postgresql or mariadb)"
	@echo "make test-django6      the suite on Django 6.1 and Python 3.13 (.venv-dj6), SQLite and PostgreSQL"
	@echo "make docs              Sphinx HTML in docs/_build/html, warnings are errors"
	@echo "make build             sdist + wheel in dist/, twine check --strict, contents check"
	@echo "make wheel-check       build, install the wheel in a clean virtualenv, run the example project on it"
	@echo "make typecheck         mypy with django-stubs on esi and esi_dashboard (config in setup.cfg)"
	@echo "make migrations-check  fail if a model change lacks a migration"
	@echo "make venv              create or update .venv"
	@echo "make downstream        allianceauth, aa-memberaudit and django-eveuniverse's suites with django-esi 10.0.0 and with this checkout,"
	@echo "                       then django-esi 7.0.1's and 10.0.0's own suites against this checkout (not in CI)"
	@echo "make downstream APP=eveuniverse NO_BASELINE=1   one app (allianceauth, memberaudit, eveuniverse), without the django-esi 10.0.0 run"
	@echo "make downstream-esi    django-esi 7.0.1's and 10.0.0's own test suites against this checkout"

venv: $(STAMP)

$(STAMP): setup.cfg setup.py pyproject.toml
	@if [ ! -x $(PY) ]; then \
		echo "Creating $(VENV) with $$($(PYTHON) --version)"; \
		$(PYTHON) -m venv $(VENV) && $(PY) -m pip install --quiet --upgrade pip; \
	fi
	$(PY) -m pip install --quiet -e ".[test,docs,dev]"
	@touch $@

venv-django6: $(STAMP_DJANGO6)

$(STAMP_DJANGO6): setup.cfg setup.py pyproject.toml
	@$(PYTHON_DJANGO6) --version >/dev/null 2>&1 || { echo "make test-django6 needs Python 3.13: $(PYTHON_DJANGO6) does not run (set PYTHON_DJANGO6=...)"; exit 2; }
	@if [ ! -x $(VENV_DJANGO6)/bin/python ]; then \
		echo "Creating $(VENV_DJANGO6) with $$($(PYTHON_DJANGO6) --version)"; \
		$(PYTHON_DJANGO6) -m venv $(VENV_DJANGO6) && $(VENV_DJANGO6)/bin/python -m pip install --quiet --upgrade pip; \
	fi
	$(VENV_DJANGO6)/bin/python -m pip install --quiet -e ".[test]" "Django>=6.1,<6.2"
	@touch $@

# DEMO_PORT and DEMO_EMULATOR_PORT given on make's command line (or in the environment)
# reach rundemo through the environment.
demo: venv
	$(PY) example_project/manage.py migrate --noinput
	$(PY) example_project/manage.py rundemo

test: venv
	bash .ci/test-matrix $(DB)

# Django 6.1 on Python 3.13: SQLite and PostgreSQL (with Redis) side by side, without
# coverage (the main matrix measures it) and without the tests marked slow (real Celery and
# django-q2 workers, which the main matrix runs), to keep CI within its time.
DJANGO6_RUN = COVERAGE=0 PY=$(VENV_DJANGO6)/bin/python PYTEST_ADDOPTS="-m 'not slow'" bash .ci/test-matrix

test-django6: venv-django6
	@$(VENV_DJANGO6)/bin/python -c "import django, sys; print(f'Django {django.get_version()} on Python {sys.version.split()[0]}')"
	@$(DJANGO6_RUN) sqlite > $(VENV_DJANGO6)/sqlite.log 2>&1 & sqlite=$$!; \
	$(DJANGO6_RUN) postgresql > $(VENV_DJANGO6)/postgresql.log 2>&1; postgresql=$$?; \
	wait $$sqlite; sqlite=$$?; \
	cat $(VENV_DJANGO6)/sqlite.log $(VENV_DJANGO6)/postgresql.log; \
	echo "Django 6.1: sqlite exit $$sqlite, postgresql exit $$postgresql"; \
	[ $$sqlite -eq 0 ] && [ $$postgresql -eq 0 ]

docs: venv
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

build: venv
	rm -rf dist
	$(PY) -m build
	$(VENV)/bin/twine check --strict dist/*
	$(PY) .ci/check-dist dist

wheel-check: build
	bash .ci/check-wheel

typecheck: venv
	$(VENV)/bin/mypy

# Real apps' test suites against this checkout, in virtualenvs under .downstream/ built from
# PyPI (tests/downstream/run.py says how). Not part of CI: a first run takes about 11 minutes,
# a re-run (venvs and django-esi baselines reused) about 5, on a loaded 2-core machine.
DOWNSTREAM_ARGS = $(if $(APP),--app $(APP)) $(if $(NO_BASELINE),--no-baseline) $(if $(RERUN_BASELINE),--rerun-baseline)

downstream:
	$(PYTHON) tests/downstream/run.py $(DOWNSTREAM_ARGS)

downstream-esi:
	$(PYTHON) tests/downstream/run.py --only-esi-suites

migrations-check: venv
	DJANGO_SETTINGS_MODULE=tests.settings PYTHONPATH=. $(VENV)/bin/django-admin makemigrations --check --dry-run

clean:
	rm -rf build dist docs/_build .pytest_cache .coverage htmlcov *.egg-info
