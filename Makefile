# The README's commands. Everything runs from a local virtualenv in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
EXECUTOR_PACKAGES := $(wildcard executors/*/pyproject.toml)

.PHONY: demo test lint format docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml $(EXECUTOR_PACKAGES) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]' $(foreach p,$(EXECUTOR_PACKAGES),-e $(dir $(p)))
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed  ## run the demo tree file with the CLI on the embedded SQLite default
	$(BIN)/taskflow run examples/demo.yaml

test: $(STAMP)  ## the whole suite: core, then every executor package
	$(BIN)/pytest -q tests $(foreach p,$(EXECUTOR_PACKAGES),$(dir $(p))tests)

lint: $(STAMP)  ## ruff, ruff format --check, mypy (strict), import-linter
	$(BIN)/ruff check src tests examples bench executors
	$(BIN)/ruff format --check src tests examples bench executors
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests examples bench executors
	$(BIN)/ruff check --fix src tests examples bench executors

docs: $(BIN)/python  ## build the documentation site into site/ (warnings are errors)
	$(BIN)/pip install --quiet -e '.[docs]'
	$(BIN)/mkdocs build --strict --quiet
	$(BIN)/python .ci/check_reference.py site

bench: $(VENV)/.installed  ## orchestration overhead on a SQLite file
	$(BIN)/python bench/overhead.py

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
