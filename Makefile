# Exercise & inflammation evidence explorer. `make help` lists the targets.
# Every target that needs the environment creates .venv and installs into it when missing, so on a
# fresh machine `make test` or `make reports` alone sets everything up.

.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: help setup validate codebook test lint format lab app class reports teaching screenshots bench clean

help: ## List the targets
	@echo "Usage: make TARGET"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (pandas 3, Altair 6); set PYTHON=python3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install the project with its test and lint tools

validate: $(STAMP) ## Validate the data package in data/ (lists every problem)
	$(BIN)/exinf validate data

codebook: $(STAMP) ## Regenerate the codebook data/README.md from the schemas
	$(BIN)/exinf codebook data

test: $(STAMP) ## Run the whole test suite (data, helpers, notebooks)
	$(BIN)/python -m pytest

lint: $(STAMP) ## Check style with ruff (code and notebooks)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Reformat code and notebooks with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
APP_PORT ?= 8866

lab: $(STAMP) ## Open JupyterLab on the notebooks (http://127.0.0.1:8888)
	$(BIN)/jupyter lab --ip=127.0.0.1 --notebook-dir=notebooks $(ROOT_FLAG)

app: $(STAMP) ## Serve the explorer app with Voila, no code shown (http://127.0.0.1:8866)
	$(BIN)/exinf app --port=$(APP_PORT)

CLASS_PORT ?= 8866
CLASS_IP ?= 127.0.0.1
CLASS_MAX_KERNELS ?= 30

class: $(STAMP) ## Serve the lessons' student set to a class (Voila, no code, no answers): http://127.0.0.1:8866
	$(BIN)/exinf class --port=$(CLASS_PORT) --ip=$(CLASS_IP) --max-kernels=$(CLASS_MAX_KERNELS)

reports: $(STAMP) ## Build the offline report site into reports/site (open reports/site/index.html)
	$(BIN)/exinf reports

teaching: $(STAMP) ## Build the lessons: instructor HTML + notebooks and clean student notebooks, into reports/site
	$(BIN)/exinf reports --only 'lesson-*'

screenshots: $(STAMP) ## Build the site if needed, then retake the README's screenshots (docs/screenshots/*.png)
	$(BIN)/exinf reports
	$(BIN)/python docs/screenshots.py

bench: $(STAMP) ## Run the benchmarks (about an hour, 25 min of it the 500-job scale section); prints a table, writes benchmarks/results/latest.json
	$(BIN)/python benchmarks/run.py

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
