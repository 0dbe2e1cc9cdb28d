# billsync: `make demo` and `make test` build their own virtual environment from nothing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint unit bench reliability clean

# billsync and the vendors' local stand-ins (sandboxes/, a distribution of its own that a production
# install leaves out): the demo and the tests need both.
$(STAMP): pyproject.toml sandboxes/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./sandboxes
	touch $(STAMP)

# DEMO_ARGS shortens it where time counts (CI: `make demo DEMO_ARGS="--activities 200"`).
demo: $(STAMP)
	$(BIN)/billsync demo $(DEMO_ARGS)

# The whole suite: lint and types, then every test.
test: lint unit

lint: $(STAMP)
	$(BIN)/ruff check core config connectors sandboxes bench tests
	$(BIN)/mypy core connectors sandboxes/billsync_sandboxes

unit: $(STAMP)
	$(BIN)/pytest

# The long forms of tests/reliability (200+ kill points, 10,000+ fuzzed requests, ...), figures printed.
# `make test` runs the same tests in their short forms.
reliability: $(STAMP)
	BILLSYNC_RELIABILITY=full $(BIN)/pytest tests/reliability -m reliability -s -q

bench: $(STAMP)
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.clio_sync

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
