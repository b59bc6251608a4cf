# Two commands do everything on a fresh machine:
#   make run    - set up and start the inbox (embedded mode: SQLite, embedded broker, real worker)
#   make test   - set up and run lint and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench bench-ingest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/servicetorg run

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Ingest benchmark (benchmarks/ingest_bench.py): starts and stops its own servers on loopback,
# about 10 minutes; e.g. make bench-ingest BENCH_ARGS="--burst 2000 --label before".
bench-ingest: $(STAMP)
	$(BIN)/python benchmarks/ingest_bench.py $(BENCH_ARGS)

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
