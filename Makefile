# The two commands of the README, and the checks CI runs. Each target creates the virtualenv
# it needs, so a fresh clone with Python 3.11 and the package registries is enough.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev

.PHONY: plan test lint typecheck check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstalled when a requirement or a library module changes: the strict editable install keeps
# a real `fluxtrust` package directory, which the type checker needs, and new modules need it.
$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt pyproject.toml $(wildcard components/*.py)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e . --config-settings editable_mode=strict
	touch $@

plan: $(VENV)/.installed
	$(BIN)/python -m fluxtrust plan --stack $(STACK)

test: $(VENV)/.installed
	$(BIN)/python -m pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

check: lint typecheck test

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
