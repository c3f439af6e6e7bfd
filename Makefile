# The two commands: `make serve` and `make test`. Each creates .venv on first use and installs
# only what it needs: serving takes the runtime dependencies, testing adds the test tools, the
# peers the benchmarks and end-to-end tests run (moto's server) and Debian's chromium.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
SERVE_STAMP := $(VENV)/.installed-serve
TEST_STAMP  := $(VENV)/.installed-test
CHROMIUM    ?= /usr/bin/chromium

.PHONY: serve test test-sqlite test-nats test-cluster test-facts check lint format bench cluster clean

# The end-to-end suite that runs again on NATS (one server; a 3-server cluster with two busbar nodes).
E2E := tests/e2e
CLUSTER_TESTS := tests/cluster

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $(SERVE_STAMP)

$(TEST_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(TEST_STAMP) $(SERVE_STAMP)

serve: $(SERVE_STAMP)  ## start busbar on its embedded store (./busbar-data)
	$(VENV)/bin/busbar serve

# Test processes per suite (pytest-xdist; most tests wait on servers, not on a core).
WORKERS ?= 2

test: $(TEST_STAMP) | $(CHROMIUM)  ## the whole suite on the embedded store and the end-to-end suite on NATS, at once
	@echo "running three suites at once (embedded store, one NATS server, a NATS cluster); each prints when it ends"
	@$(MAKE) --no-print-directory -j3 --output-sync=target test-sqlite test-nats test-cluster

# The cluster's own tests (nodes and faults on 3-server clusters of their own) need no
# embedded store: they run with the NATS suite, the one of the three that ends first.
test-sqlite: $(TEST_STAMP) | $(CHROMIUM)  ## the whole test suite but tests/cluster, busbar on its embedded store
	$(PY) -m pytest -n $(WORKERS) --dist loadfile --ignore=$(CLUSTER_TESTS) $(PYTEST_ARGS)

test-nats: $(TEST_STAMP)  ## the end-to-end suite with busbar on one NATS server, and tests/cluster
	BUSBAR_TEST_STORE=nats $(PY) -m pytest $(E2E) $(CLUSTER_TESTS) -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

test-cluster: $(TEST_STAMP)  ## the end-to-end suite on a 3-server cluster, two busbar nodes, calls alternating
	BUSBAR_TEST_STORE=cluster $(PY) -m pytest $(E2E) -n $(WORKERS) --dist loadfile $(PYTEST_ARGS)

# The console's browser tests drive Debian's chromium (Playwright launches it; no browser is
# downloaded from anywhere else). Installed when missing and we are root, as in CI; otherwise
# those tests say why and skip.
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium for the console's browser tests ..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "could not install chromium: the console's browser tests will skip"; \
	else \
		echo "no $(CHROMIUM), and not root to install it: the console's browser tests will skip"; \
	fi

test-facts: $(TEST_STAMP)  ## check the NATS JetStream behaviour busbar relies on (docs/nats-notes.md)
	$(PY) -m pytest -m facts tests/nats $(PYTEST_ARGS)

check: $(TEST_STAMP)  ## static checks: lint, formatting, types
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy

lint: check

format: $(TEST_STAMP) ## rewrite the code in the project's format
	$(VENV)/bin/ruff check --fix-only --quiet src tests benchmarks scripts
	$(VENV)/bin/ruff format src tests benchmarks scripts

bench: $(TEST_STAMP)  ## run the benchmarks (slow; prints tables)
	$(PY) benchmarks/put_events.py
	$(PY) benchmarks/match.py
	$(PY) benchmarks/deliver.py

cluster: $(TEST_STAMP)  ## 3 NATS servers and 2 busbar nodes on loopback (./cluster-data; Ctrl-C stops them)
	$(PY) scripts/cluster.py

clean:
	rm -rf $(VENV) busbar-data cluster-data .pytest_cache .mypy_cache
