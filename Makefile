# The few commands people type. `make demo` and `make test` are the two the README promises.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup demo serve test test-fast lint format schema lock worker beat clean

$(INSTALLED): requirements/base.lock requirements/dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.lock
	@touch $(INSTALLED)

setup: $(INSTALLED)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo

demo: setup
	@echo "Serving Sextant on http://$(HOST):$(PORT)/ (Ctrl-C to stop). Logins above; password: sextant-demo"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

serve: $(INSTALLED)
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(INSTALLED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(INSTALLED)
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

worker: $(INSTALLED)
	$(BIN)/celery -A config worker --loglevel=INFO

beat: $(INSTALLED)
	$(BIN)/celery -A config beat --loglevel=INFO

lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv && .lockvenv/bin/pip install --quiet . && \
	  (echo "# Runtime dependencies, every version pinned (transitive included). Regenerate with 'make lock'."; \
	   .lockvenv/bin/pip freeze --exclude sextant) > requirements/base.lock && \
	  .lockvenv/bin/pip install --quiet ".[dev]" && \
	  (echo "# Runtime plus test and tooling, every version pinned. Regenerate with 'make lock'."; echo "-r base.lock"; \
	   .lockvenv/bin/pip freeze --exclude sextant | grep -vxFf requirements/base.lock) > requirements/dev.lock; \
	  rm -rf .lockvenv

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
