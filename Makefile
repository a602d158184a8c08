# Two commands do all set-up on a fresh machine:
#   make demo   — venv + OPA, then OPA + demo upstream + sidecar in the foreground
#   make test   — venv + OPA, then every check and test
#
# OPA is pinned. An `opa` on PATH is used when it is exactly that version; otherwise it is
# built once with `go install` into .tools/bin/ (git-ignored; takes a few minutes the first time).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

OPA_VERSION   := 1.22.3
PIP_TOOLS_VERSION := 7.6.2
PYTHON        ?= python3.11
TOOLS         := $(CURDIR)/.tools/bin
VENV          := $(CURDIR)/.venv
PY            := $(VENV)/bin/python
COVERAGE_MIN  := 95
WORKDIR       ?=
PROFILE       ?= knmg

OPA_ON_PATH := $(shell command -v opa 2>/dev/null)
OPA := $(if $(and $(OPA_ON_PATH),$(findstring Version: $(OPA_VERSION),$(shell opa version 2>/dev/null))),$(OPA_ON_PATH),$(TOOLS)/opa)
# Regal (the Rego linter) is used only when a `regal` binary is on PATH: its module is not served
# by the Go module proxy this project's machines reach, so it is never built here.
REGAL := $(shell command -v regal 2>/dev/null)

export SIDECAR_OPA_BIN := $(OPA)

# Fragments in mk/ add targets and the set-up steps tests need (Debian packages, services):
# each appends to TEST_DEPS, which `make test-python` runs first.
TEST_DEPS :=
include $(sort $(wildcard mk/*.mk))

.PHONY: help
help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# ---- set-up --------------------------------------------------------------------------------

# Every package, direct or not, comes from the lock at the version and hashes it names
# (requirements-dev.lock: runtime + dev; the image uses requirements.lock); the project itself
# is added without resolving anything again. `make lock` regenerates both from pyproject.toml.
$(VENV)/.installed: pyproject.toml requirements-dev.lock
	@echo "==> Python environment (.venv) with the project and its dev tools, from requirements-dev.lock"
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11 is required)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements-dev.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	@touch $@

.PHONY: venv
venv: $(VENV)/.installed ## create .venv with the project installed

# pip-compile runs from its own venv under .tools/ so that pip-tools is never in the locks.
# LOCK_ARGS=--upgrade also moves the unpinned transitive packages to their newest versions;
# without it the versions already in the locks are kept where pyproject.toml still allows them.
LOCK_VENV := $(CURDIR)/.tools/lock-venv
PIP_COMPILE = $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --strip-extras --no-emit-find-links \
              --no-emit-index-url --no-emit-trusted-host $(LOCK_ARGS)

.PHONY: lock
lock: ## regenerate requirements.lock and requirements-dev.lock (hashes) from pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (the locks are made for Python 3.11)"; exit 1; }
	@[ -x $(LOCK_VENV)/bin/pip-compile ] && $(LOCK_VENV)/bin/pip-compile --version | grep -q ' $(PIP_TOOLS_VERSION)$$' \
	  || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet --upgrade pip pip-tools==$(PIP_TOOLS_VERSION); }
	@echo "==> requirements.lock (runtime: the image and deployments)"
	$(PIP_COMPILE) --output-file requirements.lock pyproject.toml
	@echo "==> requirements-dev.lock (runtime + dev: make venv, make test)"
	$(PIP_COMPILE) --extra dev --output-file requirements-dev.lock pyproject.toml

$(TOOLS)/opa:
	@command -v go >/dev/null || { echo "error: Go is needed to build OPA $(OPA_VERSION) (or put the OPA release binary on PATH; see README)"; exit 1; }
	@echo "==> Building OPA v$(OPA_VERSION) with 'go install' into .tools/bin/ (first time only; takes a few minutes) …"
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS=-buildvcs=false go install github.com/open-policy-agent/opa@v$(OPA_VERSION)
	@$(TOOLS)/opa version | head -1

.PHONY: tools
tools: $(if $(filter $(TOOLS)/opa,$(OPA)),$(TOOLS)/opa) ## build OPA when not on PATH

# ---- checks --------------------------------------------------------------------------------

.PHONY: lint-python
lint-python: venv ## ruff + mypy
	@echo "==> ruff"
	$(VENV)/bin/ruff check sidecar tests $(wildcard bench)
	@echo "==> mypy (strict)"
	$(VENV)/bin/mypy sidecar bench tests

.PHONY: lint-rego
lint-rego: tools ## opa fmt (fails on diff), opa check --strict; regal lint when `regal` is on PATH
	@echo "==> opa fmt (fails when a file is not formatted; 'make fmt' fixes)"
	@out=$$($(OPA) fmt --list policies/); if [ -n "$$out" ]; then echo "not formatted:"; echo "$$out"; exit 1; fi
	@echo "==> opa check --strict"
	$(OPA) check --strict policies/
	@# The gate is opa check --strict, opa fmt and the METADATA/rule-id tests; Regal adds its
	@# findings (and fails on any) only where an operator put a regal binary on PATH.
	@if [ -n "$(REGAL)" ]; then echo "==> regal lint ($(REGAL))"; $(REGAL) lint --config-file policies/.regal/config.yaml policies/; \
	 else echo "==> regal lint: SKIPPED — no 'regal' on PATH (it is not built here; put a Regal binary on PATH to run it)"; fi

.PHONY: test-rego
test-rego: tools ## opa test with coverage (fails below $(COVERAGE_MIN) %)
	@echo "==> opa test --coverage policies/"
	@# --timeout: the table-driven tests take well under a second each, but --coverage on a loaded
	@# 2-core machine can pass OPA's default of 5 s per test.
	@$(OPA) test policies/ --timeout 60s --coverage --format json > .tools/coverage.json || { $(OPA) test policies/ --timeout 60s -v | tail -40; exit 1; }
	@$(OPA) test policies/ --timeout 60s | tail -1
	@$(PY) -c 'import json,sys; c=json.load(open(".tools/coverage.json"))["coverage"]; print(f"    rego line coverage: {c:.2f} % (minimum $(COVERAGE_MIN) %)"); sys.exit(0 if c >= $(COVERAGE_MIN) else 1)'

.PHONY: test-python
test-python: venv tools $(TEST_DEPS) ## pytest: unit and integration tests (real OPA, demo upstream, sidecar)
	@echo "==> pytest"
	$(VENV)/bin/pytest -q tests

.PHONY: test
test: lint-python lint-rego test-rego test-python ## everything CI runs

.PHONY: fmt
fmt: tools venv ## format Rego and Python
	$(OPA) fmt -w policies/
	$(VENV)/bin/ruff check --fix sidecar tests $(wildcard bench)

# ---- running -------------------------------------------------------------------------------

.PHONY: demo
demo: venv tools ## run OPA + demo upstream + sidecar (Ctrl-C stops all three)
	$(VENV)/bin/sidecar demo --profile $(PROFILE) $(if $(WORKDIR),--workdir $(WORKDIR))

.PHONY: clean
clean: ## remove caches (keeps .venv and .tools)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build *.egg-info
