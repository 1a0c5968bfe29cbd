# callgov — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck pytest setup bench clean frontend

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## run: set up everything on a fresh machine and start the app with demo data
run: $(STAMP)
	$(BIN)/callgov db upgrade
	$(BIN)/callgov demo run

## test: lint, type-check and run the whole suite
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## frontend: rebuild the committed browser bundles in webui/static (needs Node.js 20.19+ and npm)
frontend:
	cd webui/frontend && npm ci && npm run build

clean:
	rm -rf $(VENV) instance .pytest_cache .mypy_cache .ruff_cache
