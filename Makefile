# Everything the project needs is installed by this file into .venv (nothing by hand).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck clean bench bench-quick

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Starts the sandbox, imports samples/ into both targets, prints the summaries, stops it.
demo: install
	bash scripts/demo.sh

test: install lint typecheck
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check importer tests samples scripts bench
	$(BIN)/ruff format --check importer tests samples scripts bench

typecheck: install
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache

# Benchmark harness (bench/): full sizes, ~20 min; writes BENCHMARKS.md.
bench: install
	$(BIN)/python -m bench

# The same scenarios at pull-request size (under 3 min); writes bench/.cache/BENCHMARKS-quick.md.
bench-quick: install
	$(BIN)/python -m bench --quick
