# Everything the project needs is installed by this file into .venv (nothing by hand).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck clean bench bench-quick browser screenshots

install: $(STAMP)
	@echo "importer is installed: $(CURDIR)/$(BIN)/importer"
	@echo "  to type just 'importer': export PATH=\"$(CURDIR)/$(BIN):\$$PATH\"  (or: pipx install $(CURDIR))"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Starts the sandbox, imports samples/ into both targets, prints the summaries, stops it.
demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP) lint typecheck browser
	$(BIN)/python -m pytest -q

# The README's pictures of the page, taken by the browser tests.
screenshots: $(STAMP) browser
	IMPORTER_SCREENSHOTS=docs/ui $(BIN)/python -m pytest -q tests/test_ui_browser.py

# Chromium from Debian's packages for the page's browser tests (see scripts/browser.sh).
browser:
	bash scripts/browser.sh

lint: $(STAMP)
	$(BIN)/ruff check importer tests samples scripts bench
	$(BIN)/ruff format --check importer tests samples scripts bench

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache

# Benchmark harness (bench/): full sizes, ~20 min; writes BENCHMARKS.md.
bench: $(STAMP)
	$(BIN)/python -m bench

# The same scenarios at pull-request size (under 3 min); writes bench/.cache/BENCHMARKS-quick.md.
bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick
