# Everything a user needs: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench eval docker-check lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot run

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/mypy bot

test: lint
	$(BIN)/python -m pytest -n auto

eval: $(STAMP)
	$(BIN)/python -m tests.quality

bench: $(STAMP)
	$(BIN)/python bench/run.py

docker-check:
	bash .ci/docker-check

# Re-pin the image's dependencies: a fresh venv with exactly the runtime dependencies.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --upgrade pip
	.lockenv/bin/pip install --quiet "setuptools>=68" .
	.lockenv/bin/pip freeze --exclude jp-techpolicy-bot --all | grep -v '^pip==' > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
