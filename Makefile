# linreg: the commands a newcomer can guess.  Every target uses the project's .venv.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
PYTEST ?= pytest -n 2
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: help setup repro all test test-fast lint format ui sweep bench clean

help:
	@echo "make setup      virtualenv, packages, graphviz (scripts/setup.sh)"
	@echo "make repro      run the DVC pipeline: generate -> train (36-run multirun) -> evaluate"
	@echo "make test       the whole test suite, end-to-end tests included"
	@echo "make test-fast  the test suite without the slow end-to-end tests"
	@echo "make ui         the MLflow UI on http://$(HOST):$(PORT)"
	@echo "make sweep      an ad-hoc Hydra multirun (ARGS='train.lr=0.01,0.1 loss=mse,mae')"
	@echo "make bench      the benchmarks (ratios; writes benchmarks/RESULTS.md)"
	@echo "make lint       ruff"

setup:
	bash scripts/setup.sh

repro:
	dvc repro

all: setup repro

test:
	$(PYTEST)

test-fast:
	$(PYTEST) -m "not slow"

lint:
	ruff check . && ruff format --check .

format:
	ruff format . && ruff check --fix .

ui:
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host $(HOST) --port $(PORT)

sweep:
	python -m linreg.train -m $(ARGS)

bench:
	python -m benchmarks

clean:
	rm -rf outputs .pytest_cache .ruff_cache
