# Journeys service. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed
# checkov pins boto3, botocore and packaging below what the service uses: it gets a venv of
# its own, from requirements-checkov.txt.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
PORT ?= 3000
ORG ?= demo
ROLES ?= admin,staff
FUNCTION ?= journeys
EVENT ?= events/journeys/list-journeys.json
JOURNEY ?= retreat_ibiza_2025
N ?= 1000
SIMULATE_ARGS ?=
# How sam's containers reach this machine: 127.0.0.1 with --docker-network host (Linux),
# host.docker.internal on Docker Desktop.
SAM_AWS_HOST ?= 127.0.0.1
PYTEST_ARGS ?=
MODULES ?=

.DEFAULT_GOAL := help
.PHONY: help install run test lint format typecheck unit integration contract e2e browser mutation token invoke sam-env simulate openapi bench build clean

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

lint: $(STAMP) $(CHECKOV_STAMP) ## ruff (lint + format check), mypy, cfn-lint and checkov
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared functions aws_sim local_stack benchmarks client tools
	$(BIN)/cfn-lint template.yaml
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --config-file .checkov.yaml

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $(CHECKOV_STAMP)

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
# here). Installed when missing and we are root; without it `make test` stops here, saying how.
browser: ## Install Debian's chromium for the dashboard's browser test (root, only if missing)
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the dashboard's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium >/dev/null; \
	fi
	@test -x /usr/bin/chromium || { echo "ERROR: /usr/bin/chromium is missing and could not be" \
		"installed: run 'make browser' as root (apt-get install chromium)" >&2; exit 1; }

# Not part of `make test`: it runs the unit tests once per mutant (about 25 minutes on 2 cores).
# One module: make mutation MODULES=timeline
mutation: $(STAMP) ## Mutation testing of the domain modules (mutmut, one worker); a table of scores
	$(BIN)/python -m tools.mutation $(MODULES)

token: $(STAMP) ## Print a local JWT: make token ORG=demo ROLES=admin,staff
	@$(BIN)/python -m local_stack.tokens --org "$(ORG)" --roles "$(ROLES)"

invoke: $(STAMP) ## Docker-free `sam local invoke`: make invoke FUNCTION=journeys EVENT=events/...json
	@PORT=$(PORT) $(BIN)/python -m local_stack.invoke "$(FUNCTION)" "$(EVENT)"

sam-env: $(STAMP) ## Write env.json for `sam local invoke/start-api --env-vars` from the running `make run`
	@PORT=$(PORT) $(BIN)/python -m local_stack.sam_env --host "$(SAM_AWS_HOST)"

simulate: $(STAMP) ## Rehearse a journey on the running `make run`: make simulate JOURNEY=retreat_ibiza_2025 N=10000 SIMULATE_ARGS="--compare current"
	@JOURNEYS_URL="$${JOURNEYS_URL:-http://127.0.0.1:$(PORT)}" \
	JOURNEYS_TOKEN="$${JOURNEYS_TOKEN:-$$($(BIN)/python -m local_stack.tokens --org "$(ORG)" --roles "$(ROLES)")}" \
	$(BIN)/python -m journeys_client.simulate "$(JOURNEY)" -n "$(N)" $(SIMULATE_ARGS)

ARGS ?=
.PHONY: backfill
backfill: $(STAMP) ## After an upgrade: bring old items into this release's shape (README "Upgrading"): make backfill ARGS="--dry-run all"
	$(BIN)/python -m tools.backfill $(ARGS)

openapi: $(STAMP) ## Write docs/openapi.json from the resolvers
	$(BIN)/python -m tools.openapi --output docs/openapi.json

bench: $(STAMP) ## Measure cold starts, DynamoDB calls and throughput; print a table of ratios
	$(BIN)/python -m benchmarks.run

$(SAM_STAMP): requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	@touch $(SAM_STAMP)

# sam build needs the runtime's python (python3.13) on PATH; under pyenv, expose every version.
build: export PYENV_VERSION := $(shell pyenv versions --bare 2>/dev/null | sort -rV | tr '\n' ':' | sed 's/:$$//')
build: export SAM_CLI_TELEMETRY := 0
build: $(SAM_STAMP) ## sam build without Docker (aws-sam-cli in .venv-sam; needs python3.13)
	$(SAM_VENV)/bin/sam build --template-file template.yaml

clean: ## Remove the venvs and build output
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .mypy_cache .ruff_cache
