# Two commands on a fresh machine (Python 3.11 + make): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test lab bench install install-test chromium test-tools lint clean

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

# The tests also need a Java runtime (local Spark, warehouse-engine tests); the demo does not.
test-tools:
	@bash scripts/ensure-chromium.sh --java

demo: install chromium
	$(VENV)/bin/reporting demo

# Two test processes (pytest-xdist), a test file to each: kernels wait on I/O, the machine has 2 cores.
test: install-test test-tools
	$(PY) -m pytest -q -n 2 --dist loadfile

# Jupyter refuses to run as root without --allow-root (containers, CI machines): say it then.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(PY)
	$(PIP) install -q -e '.[lab]'
	$(VENV)/bin/jupyter lab $(ALLOW_ROOT) notebooks/templates

bench: install-test test-tools
	$(PY) tests/benchmarks/bench_pack.py --full --dask

lint: install-test
	$(VENV)/bin/ruff check reporting tests

clean:
	rm -rf $(VENV) outputs/*/ .pytest_cache
