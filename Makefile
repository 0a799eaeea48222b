# ctloop: every command a user or CI needs. `make` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CTLOOP := $(VENV)/bin/ctloop
STAMP := $(VENV)/.ctloop-stamp
DNN_STAMP := $(VENV)/.ctloop-dnn-stamp
# Checkov lives in its own pinned venv (policies/infra, make checkov); defined here, before `test` uses it.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.ctloop-stamp
PIP := $(PY) -m pip --disable-pip-version-check -q
UV_VERSION := 0.13.8

PIPELINE ?= pipelines/training.yml
ARGS ?=
STACK ?= dev
TARGET ?= local
PYTEST_ARGS ?=

.PHONY: help setup setup-dnn browser test lint run-pipeline runs lock clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the pinned environment from requirements.lock into $(VENV) ..."
	@$(PIP) install uv==$(UV_VERSION) 2>&1 | grep -v "is ignored: it is neither" || true
	@# --compile-bytecode: pip's default, not uv's; without it every process (each step, each CLI
	@# call, each test subprocess) compiles pandas, MLflow and azure-ai-ml from source again, about
	@# 3x their import's CPU, wherever PYTHONDONTWRITEBYTECODE is set or site-packages is read-only
	@$(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -r requirements.lock
	@$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	@$(PY) -m pip check >/dev/null
	@touch $@

$(DNN_STAMP): $(STAMP) requirements-dnn.lock
	@echo "installing PyTorch (CPU) from requirements-dnn.lock ..."
	@$(PIP) install -r requirements-dnn.lock 2>&1 | grep -v "is ignored: it is neither" || true
	@$(PY) -c "import torch" && touch $@

setup: $(STAMP) ## Create or refresh the venv from the lock file (instant when current)

setup-dnn: $(DNN_STAMP) ## Add PyTorch for the deep-learning trainer

browser: ## Headless Chromium for the dashboard render test (installed only under CI=true, as root)
	@command -v chromium >/dev/null 2>&1 || { [ "$${CI:-}" = true ] && [ "$$(id -u)" = 0 ] && \
	  (apt-get -qq update && DEBIAN_FRONTEND=noninteractive apt-get -qq install -y chromium >/dev/null); } \
	  || echo "chromium is not installed: the dashboard render test will skip (apt-get install chromium)"

test: $(DNN_STAMP) $(CHECKOV_STAMP) browser ## Run the whole test suite (installs what it needs; one BLAS/OpenMP thread per worker)
	@OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist loadscope -m "not azure_live" $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

lint: $(STAMP) ## ruff and the import contracts
	@$(VENV)/bin/ruff check src tests infra policies benchmarks
	@$(VENV)/bin/ruff format --check src tests infra policies benchmarks
	@$(VENV)/bin/lint-imports

run-pipeline: $(STAMP) ## Run the training pipeline (local by default; PIPELINE=, ARGS=, TARGET=azure STACK=dev)
	@$(CTLOOP) run $(PIPELINE) --target $(TARGET) --stack $(STACK) $(ARGS); rc=$$?; \
	  case $$rc in 0) ;; 1) echo "ctloop run exited 1: a step failed (its log is named above)" >&2 ;; \
	  2) echo "ctloop run exited 2: a spec or an argument is wrong; nothing ran" >&2 ;; \
	  *) echo "ctloop run exited $$rc" >&2 ;; esac; exit $$rc

runs: $(STAMP) ## List local pipeline runs (ctloop runs show <id> for one)
	@$(CTLOOP) runs list

lock: ## Re-resolve requirements.in into requirements.lock
	@rm -rf /tmp/ctloop-lock && $(PYTHON) -m venv /tmp/ctloop-lock
	@/tmp/ctloop-lock/bin/pip install -q -r requirements.in
	@/tmp/ctloop-lock/bin/pip check
	@{ echo "# Pinned lock of requirements.in (resolved together, 'pip check' clean). Regenerate with 'make lock'."; \
	  /tmp/ctloop-lock/bin/pip freeze | grep -v '^-e'; } > requirements.lock

clean: ## Remove local state (.ctloop/) but keep the venv
	rm -rf .ctloop

.PHONY: docs mutation
docs: $(STAMP) ## Build the documentation site into site/ (mkdocs-material, strict: a broken link fails)
	@NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet && echo "site/index.html"

mutation: $(STAMP) ## Mutation testing of gate, drift, triggers, splits, contracts (mutmut; survivors per module)
	@OMP_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children 2 >/dev/null; rc=$$?; \
	  $(PY) benchmarks/mutation.py; summary=$$?; [ $$rc -eq 0 ] && exit $$summary || exit $$rc

## --- infra (Pulumi) ---
PULUMI ?= pulumi
POLICY_PACK := policies/infra

YES ?=

.PHONY: preflight preview up azureml-config test-infra checkov-setup checkov oidc-refresh

$(CHECKOV_STAMP): requirements-checkov.lock $(STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@echo "installing Checkov from requirements-checkov.lock into $(CHECKOV_VENV) ..."
	@$(VENV)/bin/uv pip install -q --compile-bytecode --python $(CHECKOV_VENV)/bin/python -r requirements-checkov.lock
	@touch $@

checkov-setup: $(CHECKOV_STAMP) ## Install Checkov in its own pinned venv (.venv-checkov)

checkov: $(CHECKOV_STAMP) ## Checkov on an ARM rendering of each stack (STACKS="dev staging prod"; exit 1 on a failure)
	@$(PY) -m infra.scan $(foreach s,$(or $(STACKS),$(STACK)),--stack $(s))

preflight: $(STAMP) ## Check Pulumi CLI, backend and Azure logins, and the stack config (STACK=dev)
	@$(PY) -m infra.preflight --stack $(STACK)

preview: preflight checkov ## Checkov, then pulumi preview with the policy pack (STACK=dev|staging|prod)
	@CTLOOP_STACK=$(STACK) $(PULUMI) preview --stack $(STACK) --policy-pack $(POLICY_PACK) --diff

up: preflight checkov ## pulumi up with the policy pack (STACK=dev|staging|prod; YES=1: no prompt, for CI)
	@CTLOOP_STACK=$(STACK) $(PULUMI) up --stack $(STACK) --policy-pack $(POLICY_PACK) \
	  $(if $(YES),--yes --non-interactive --diff)

# Azure DevOps: AzureCLI@2 with addSpnToEnvironment exposes the service connection's federated token
# and ids as idToken, servicePrincipalId and tenantId; hand them to the Pulumi provider and azure-identity.
ifdef idToken
export ARM_OIDC_TOKEN ?= $(idToken)
export ARM_CLIENT_ID ?= $(servicePrincipalId)
export ARM_TENANT_ID ?= $(tenantId)
export ARM_USE_OIDC ?= true
export AZURE_CLIENT_ID ?= $(servicePrincipalId)
export AZURE_TENANT_ID ?= $(tenantId)
endif

oidc-refresh: $(STAMP) ## In CI: write a fresh federated token to AZURE_FEDERATED_TOKEN_FILE now and every 4 min
	@$(PY) -m infra.oidc_refresh --once
	@nohup $(PY) -m infra.oidc_refresh >/dev/null 2>&1 &

azureml-config: $(STAMP) ## Write .azureml/config.json from the stack outputs (STACK=dev)
	@$(PY) -m infra.azureml_config --stack $(STACK) --output .azureml/config.json

test-infra: $(STAMP) $(CHECKOV_STAMP) ## Run the infra tests (Pulumi mocks, policy validators; no cloud)
	@$(PY) -m pytest tests/infra -q -p no:cacheprovider $(PYTEST_ARGS)

## --- gitops ---
BASE ?= origin/main
REVIEW_OUT ?=
CHECK_JSONSCHEMA := $(VENV)/bin/check-jsonschema
GITHUB_WORKFLOWS := $(wildcard .github/workflows/*.yml)

.PHONY: validate validate-specs validate-ci lock-versions review register-components schedule-apply test-gitops test-azure

validate: validate-specs validate-ci ## Check every spec, version lock and CI file offline (STACK=dev; exit 2 on a violation)

validate-specs: $(STAMP) ## ctloop validate: load specs with azure-ai-ml, run policies/specs rules (STACK=dev)
	@$(CTLOOP) validate --stack $(STACK)

validate-ci: $(STAMP) ## Check .github/workflows and azure-pipelines.yml against their schemas (offline)
	@$(CHECK_JSONSCHEMA) --builtin-schema vendor.github-workflows $(GITHUB_WORKFLOWS)
	@$(CHECK_JSONSCHEMA) --regex-variant nonunicode --builtin-schema vendor.azure-pipelines \
	  --data-transform azure-pipelines azure-pipelines.yml

lock-versions: $(STAMP) ## Record new component/environment versions in components/versions.lock
	@$(CTLOOP) lock

review: $(STAMP) ## Markdown summary of spec changes against BASE (BASE=origin/main, REVIEW_OUT=file)
	@$(CTLOOP) review --base $(BASE) $(if $(REVIEW_OUT),--output $(REVIEW_OUT))

register-components: $(STAMP) ## Register environments and components in the stack's workspace (STACK=dev)
	@$(CTLOOP) components register --stack $(STACK)

schedule-apply: $(STAMP) ## Create or update the Azure ML schedules in pipelines/schedules (STACK=dev)
	@$(CTLOOP) schedule apply --stack $(STACK)

test-azure: $(STAMP) ## Live suite against an existing stack's workspace (STACK=dev; needs az login, .azureml config)
	@CTLOOP_STACK=$(STACK) CTLOOP_LIVE=1 $(PY) -m pytest tests/live -m azure_live -p no:cacheprovider -n 0 -v $(PYTEST_ARGS)

test-gitops: $(STAMP) ## Run the gitops and azure tests (offline: fake MLClient, temporary git repos)
	@$(PY) -m pytest tests/gitops tests/azure -q -p no:cacheprovider $(PYTEST_ARGS)


## --- serving ---
MODEL_NAME ?= rainfall-classifier
VERSION ?=
EVAL ?=
REASON ?= manual rollback

.PHONY: endpoint-up endpoint-status endpoint-down rollout rollout-status rollout-resume rollout-rollback \
  bench-serving test-serving

endpoint-up: $(STAMP) ## Start the local endpoint's router (ARGS="--deployment blue --model-dir DIR" adds a model)
	@$(CTLOOP) endpoint up --target $(TARGET) --stack $(STACK) $(ARGS)

endpoint-status: $(STAMP) ## Deployments, traffic, requests, errors, p50/p95/p99 and primary metric per variant
	@$(CTLOOP) endpoint status --target $(TARGET) --stack $(STACK) $(ARGS)

endpoint-down: $(STAMP) ## Stop the local endpoint (router and deployments; logs stay in .ctloop/endpoint)
	@$(CTLOOP) endpoint down --target $(TARGET) --stack $(STACK) $(ARGS)

rollout: $(STAMP) ## Blue/green rollout of VERSION (default: champion) of MODEL_NAME, EVAL=labelled data
	@test -n "$(EVAL)" || { echo "set EVAL=<dataset folder or .parquet of labelled rows>" >&2; exit 2; }
	@$(CTLOOP) rollout start --target $(TARGET) --stack $(STACK) --model-name $(MODEL_NAME) $(if $(VERSION),--version $(VERSION)) \
	  --eval $(EVAL) $(ARGS)

rollout-status: $(STAMP) ## Stage, checks and history of the last rollout
	@$(CTLOOP) rollout status --target $(TARGET) --stack $(STACK)

rollout-resume: $(STAMP) ## Continue an interrupted rollout (the old slot gets 100% first)
	@$(CTLOOP) rollout resume --target $(TARGET) --stack $(STACK)

rollout-rollback: $(STAMP) ## Abort the rollout: old slot 100%, new slot deleted, version rejected (REASON=)
	@$(CTLOOP) rollout rollback --target $(TARGET) --stack $(STACK) --reason "$(REASON)"

bench-serving: $(STAMP) ## Latency/throughput: azmlinfsrv direct vs router, 1 and 1,000 rows (loopback)
	@$(PY) benchmarks/serving.py $(ARGS)

test-serving: $(STAMP) ## Run the serving and rollout tests (real azmlinfsrv processes on 127.0.0.1)
	@$(PY) -m pytest tests/serving tests/rollout -q -p no:cacheprovider $(PYTEST_ARGS)

## --- monitoring ---
.PHONY: monitor check-triggers loop replay report

MONITOR_ARGS ?=
REPLAY_ARGS ?= --compare

monitor: $(STAMP) ## Record closed windows of endpoint logs + labels in the metrics history (MONITOR_ARGS=)
	@$(CTLOOP) monitor --target $(TARGET) --stack $(STACK) $(MONITOR_ARGS)

check-triggers: $(STAMP) ## Say whether to retrain and why (exit 10 = retrain; MONITOR_ARGS=)
	@$(CTLOOP) check-triggers --target $(TARGET) --stack $(STACK) --exit-code $(MONITOR_ARGS); rc=$$?; \
	  if [ $$rc -eq 10 ]; then echo "retrain needed"; elif [ $$rc -ne 0 ]; then exit $$rc; fi

loop: $(STAMP) ## One loop turn: monitor -> check triggers -> training pipeline when they fire (MONITOR_ARGS=)
	@$(CTLOOP) loop --target $(TARGET) --stack $(STACK) $(MONITOR_ARGS)

replay: $(STAMP) ## Replay the rainfall data through the loop vs never/every-batch/fixed retraining (REPLAY_ARGS=)
	@$(CTLOOP) replay --dataset rainfall $(REPLAY_ARGS)

report: $(STAMP) ## Write the static HTML dashboard to .ctloop/report/index.html
	@$(CTLOOP) report
