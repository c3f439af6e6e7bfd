# The two commands: `make serve` and `make test`. Each creates .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: serve test lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

serve: $(STAMP)  ## start busbar on its embedded store (./busbar-data)
	$(VENV)/bin/busbar serve

test: $(STAMP)   ## run the whole test suite
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)   ## static checks (ruff)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)  ## run the benchmarks (slow; prints tables)
	$(PY) benchmarks/put_events.py
	$(PY) benchmarks/match.py
	$(PY) benchmarks/deliver.py

clean:
	rm -rf $(VENV) busbar-data .pytest_cache
