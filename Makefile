# Two commands on a fresh machine (Python 3.11 + make): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test lab bench install install-test chromium lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# PDF and browser tests need Debian's chromium (and pdftotext from poppler-utils).
chromium:
	@bash scripts/ensure-chromium.sh

demo: install chromium
	$(VENV)/bin/reporting demo

test: install-test chromium
	$(PY) -m pytest -q

lab: $(PY)
	$(PIP) install -q -e '.[lab]'
	$(VENV)/bin/jupyter lab notebooks/templates

bench: install-test chromium
	$(PY) tests/benchmarks/bench_pack.py --full --dask

lint: install-test
	$(VENV)/bin/ruff check reporting tests

clean:
	rm -rf $(VENV) outputs/*/ .pytest_cache
