# linreg: the commands a newcomer can guess.  Every target uses the project's .venv.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
PYTEST ?= pytest -n 2
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: help setup test-setup repro all test test-fast lint format ui sweep bench clean

help:
	@echo "make setup      what the pipeline needs: .venv, linreg, graphviz (scripts/setup.sh)"
	@echo "make repro      run the DVC pipeline: generate -> train (36-run multirun) -> evaluate"
	@echo "make test-setup setup, plus what the tests need: dev tools, chromium, the scale-out"
	@echo "                extras (scripts/setup-tests.sh; test, test-fast and lint run it first)"
	@echo "make test       the whole test suite, end-to-end tests included"
	@echo "make test-fast  the test suite without the slow end-to-end tests"
	@echo "make ui         the MLflow UI on http://$(HOST):$(PORT)"
	@echo "make sweep      an ad-hoc Hydra multirun (ARGS='train.lr=0.01,0.1 loss=mse,mae')"
	@echo "make bench      the benchmarks (ratios; writes benchmarks/RESULTS.md)"
	@echo "make lint       ruff"

# Both scripts are quick to re-run (a stamp in .venv skips pip), so the targets below always run
# them: `make test` works on a fresh checkout and picks up a changed pyproject.toml.
setup:
	bash scripts/setup.sh

test-setup: setup
	bash scripts/setup-tests.sh

repro:
	dvc repro

all: setup repro

test: test-setup
	$(PYTEST)

test-fast: test-setup
	$(PYTEST) -m "not slow"

lint: test-setup
	ruff check . && ruff format --check .

format: test-setup
	ruff format . && ruff check --fix .

ui:
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host $(HOST) --port $(PORT)

sweep:
	python -m linreg.train -m $(ARGS)

bench:
	python -m benchmarks

clean:
	rm -rf outputs .pytest_cache .ruff_cache
