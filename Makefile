# Two commands for everything: `make run` serves the app, `make test` runs every test (`make test-fast`: the
# quick loop while working, without the slow and browser tests; CI runs `make test`).
# Both create (or reuse) the virtualenv .venv and install the pinned requirements into it first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run dev test test-fast lint train samples benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime-installed $@

# Two malloc arenas from the first thread on (cnnviz.server.memory.limit_arenas): what a closed tab freed goes back.
# cnnviz.ui.launch is `streamlit run app.py` once the library and the default model are warmed (a few seconds).
run: $(VENV)/.runtime-installed
	MALLOC_ARENA_MAX=2 $(BIN)/python -m cnnviz.ui.launch --server.port $(PORT)

dev: $(VENV)/.runtime-installed  # reloads on save (the file watcher skips .venv, see .streamlit/config.toml)
	MALLOC_ARENA_MAX=2 $(BIN)/streamlit run app.py --server.port $(PORT) --server.fileWatcherType auto --server.runOnSave true

test: $(VENV)/.dev-installed
	@scripts/ensure-tools || exit 1; \
	CHROMIUM_PATH="$$(scripts/ensure-chromium)" || exit 1; \
	echo "browser tests use $$CHROMIUM_PATH"; \
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/hadolint Dockerfile && \
	CHROMIUM_PATH="$$CHROMIUM_PATH" $(BIN)/python -m pytest

test-fast: $(VENV)/.dev-installed  # about 2.5 minutes: no Chromium needed
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/python -m pytest -m "not slow and not browser" -q

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile
	$(BIN)/ruff format --check .
	$(BIN)/mypy

train: $(VENV)/.runtime-installed
	$(BIN)/python -m cnnviz.training.train --seed 0

samples: $(VENV)/.runtime-installed
	$(BIN)/python -m cnnviz.data.samples

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
