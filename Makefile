# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run run-stack test lint format messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo --origin http://$(HOST):$(PORT)
	@echo
	@echo "  Demo shop (the widget):  http://$(HOST):$(PORT)/demo/"
	@echo "  Agent console:           http://$(HOST):$(PORT)/console/"
	@echo "  Admin:                   http://$(HOST):$(PORT)/admin/"
	@echo "  Emails (not sent, written as files): $${EMAIL_FILE_PATH:-var/emails/}"
	@echo
	PUBLIC_URL=$${PUBLIC_URL:-http://$(HOST):$(PORT)} $(BIN)/daphne -b $(HOST) -p $(PORT) config.asgi:application

# The real stack, as in production (docs/deploy.md): needs DATABASE_URL and REDIS_URL;
# two Daphne processes (ASGI_PORTS="8001 8002"), a Celery worker and Celery beat.
run-stack: $(VENV)/.runtime
	bin/run-stack

test: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# After changing user-facing text: refresh the catalogues, translate what is new in
# locale/*/LC_MESSAGES/*.po, then `make messages` again to compile (docs/languages.md).
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=bench --ignore=tests --ignore=node_modules --ignore=test-results
messages: $(VENV)/.dev
	$(BIN)/python manage.py makemessages --all $(MESSAGES_IGNORE)
	$(BIN)/python manage.py makemessages --all -d djangojs $(MESSAGES_IGNORE)
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) db.sqlite3 var
