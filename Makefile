# Every target creates .venv when it is missing and installs the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench bench-peers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rsetl local demo

test: $(STAMP)
	$(BIN)/python -m pytest

# mypy checks every Python folder: src (pyproject's `packages`); bench, scripts, tests and the layer, with
# the layer importable as the functions and tests import it; each function alone, as every one is `app`.
LAYER := layers/etl_common/python

lint: $(STAMP)
	$(BIN)/ruff check src tests functions layers bench scripts
	$(BIN)/ruff format --check src tests functions layers bench scripts
	$(BIN)/mypy
	MYPYPATH=$(LAYER) $(BIN)/mypy --explicit-package-bases bench scripts tests $(LAYER)
	for function in functions/*/; do MYPYPATH=$(LAYER) $(BIN)/mypy $$function || exit 1; done

bench: $(STAMP)
	$(BIN)/python -m bench

# The other local emulators go into a throwaway venv of their own, never the project's.
PEERS_VENV := bench/results/.peers-venv

$(PEERS_VENV)/bin/python:
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet 'ministack==1.5.33' 'moto[server]==5.2.5'

bench-peers: $(STAMP) $(PEERS_VENV)/bin/python
	$(BIN)/python -m bench.peers --peers-python $(PEERS_VENV)/bin/python --output bench/results/peers.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .rsetl
