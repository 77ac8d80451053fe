# Journeys service. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAM_VENV := .venv-sam
PORT ?= 3000
ORG ?= demo
ROLES ?= admin,staff
FUNCTION ?= journeys
EVENT ?= events/journeys/list-journeys.json
# How sam's containers reach this machine: 127.0.0.1 with --docker-network host (Linux),
# host.docker.internal on Docker Desktop.
SAM_AWS_HOST ?= 127.0.0.1
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install run test lint format typecheck unit integration contract e2e browser token invoke sam-env openapi bench build clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt shared/requirements.txt client/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed (set PYTHON=python3.x)") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

install: $(STAMP) ## Create .venv with everything the service, tests and tools need

run: $(STAMP) ## Start the local stack on http://127.0.0.1:$(PORT) (embedded AWS, no Docker)
	PORT=$(PORT) $(BIN)/python -m local_stack.server

test: lint browser ## Lint, then run every test tier (unit, integration and contract on moto, e2e on the local stack)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint + format check), mypy and cfn-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared functions local_stack tools benchmarks client
	$(BIN)/cfn-lint template.yaml

format: $(STAMP) ## Fix what ruff can fix
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: $(STAMP) ## Unit tests only (no AWS)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP) ## Handler tests on moto
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

contract: $(STAMP) ## schemathesis over every operation of docs/openapi.json (in-process gateway, moto)
	$(BIN)/python -m pytest tests/contract $(PYTEST_ARGS)

e2e: $(STAMP) browser ## End-to-end tests against the local stack over HTTP (and the dashboard in Chromium)
	$(BIN)/python -m pytest tests/e2e $(PYTEST_ARGS)

# The dashboard's browser test drives Debian's Chromium (Playwright cannot download browsers
# here). Installed only when missing and we are root; otherwise that test skips, saying why.
browser: ## Install Debian's chromium for the dashboard's browser test (root, only if missing)
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the dashboard's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium >/dev/null \
		|| echo "WARNING: chromium could not be installed: the browser test will be skipped"; \
	fi

token: $(STAMP) ## Print a local JWT: make token ORG=demo ROLES=admin,staff
	@$(BIN)/python -m local_stack.tokens --org "$(ORG)" --roles "$(ROLES)"

invoke: $(STAMP) ## Docker-free `sam local invoke`: make invoke FUNCTION=journeys EVENT=events/...json
	@PORT=$(PORT) $(BIN)/python -m local_stack.invoke "$(FUNCTION)" "$(EVENT)"

sam-env: $(STAMP) ## Write env.json for `sam local invoke/start-api --env-vars` from the running `make run`
	@PORT=$(PORT) $(BIN)/python -m local_stack.sam_env --host "$(SAM_AWS_HOST)"

openapi: $(STAMP) ## Write docs/openapi.json from the resolvers
	$(BIN)/python -m tools.openapi --output docs/openapi.json

bench: $(STAMP) ## Measure cold starts, DynamoDB calls and throughput; print a table of ratios
	$(BIN)/python -m benchmarks.run

$(SAM_VENV)/bin/sam:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli

# sam build needs the runtime's python (python3.13) on PATH; under pyenv, expose every version.
build: export PYENV_VERSION := $(shell pyenv versions --bare 2>/dev/null | sort -rV | tr '\n' ':' | sed 's/:$$//')
build: export SAM_CLI_TELEMETRY := 0
build: $(SAM_VENV)/bin/sam ## sam build without Docker (aws-sam-cli in .venv-sam; needs python3.13)
	$(SAM_VENV)/bin/sam build --template-file template.yaml

clean: ## Remove the venvs and build output
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .mypy_cache .ruff_cache
