# The two commands of the README: `make demo` runs TraceACS with a simulated fleet,
# `make test` runs the whole suite. Both set up their own virtualenv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit serve clean audit

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/traceacs demo

serve: $(STAMP)
	$(BIN)/traceacs serve --allow-unauthenticated-cpes

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	sh deploy/prometheus/ensure-promtool.sh
	sh tests/console/ensure-chromium.sh
	sh tests/scaleout/ensure-nginx.sh
	$(BIN)/pytest -q

test: lint typecheck unit

# Known vulnerabilities in the installed dependencies (PyPI's advisory data). Not part
# of `make test`: it needs pypi.org's JSON API, and --strict makes "could not audit"
# a failure rather than a silent pass (see SECURITY.md, "Dependency audit").
audit: $(STAMP)
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off -s pypi

clean:
	rm -rf $(VENV) traceacs-data .pytest_cache .mypy_cache .ruff_cache
