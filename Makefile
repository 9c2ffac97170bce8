# Exchange Integration Platform — the commands a newcomer needs.
#   make up     run the platform locally (Kafka, PostgreSQL, Vault, every service)
#   make test   run every test against real infrastructure (starts it when needed)
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
PYTEST_ARGS ?=
# eip.book's core is Rust (libs/book/rust), built by `uv sync`: rustup puts cargo in
# ~/.cargo/bin, which a non-login shell (CI) may not have on PATH.
export PATH := $(HOME)/.cargo/bin:$(PATH)
BOOK_CRATE := --manifest-path libs/book/Cargo.toml
# cargo test/clippy build PyO3 outside maturin: name the interpreter rather than trust `python3`.
export PYO3_PYTHON := python3.11

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: install
install: ## install the Python workspace (uv sync from the committed lock)
	@command -v uv >/dev/null || python3.11 -m pip install --quiet 'uv==0.13.8'
	@command -v cargo >/dev/null || { echo "cargo is required: eip.book's native core is Rust (install the toolchain with rustup)" >&2; exit 1; }
	uv sync --frozen

.PHONY: up
up: install ## start infrastructure and every service; prints endpoints (.run/endpoints.json)
	bash deploy/local/up.sh all

.PHONY: infra-up
infra-up: install ## start Kafka, PostgreSQL and Vault only
	bash deploy/local/up.sh infra

.PHONY: down
down: ## stop everything `make up` started (data is kept in .run/)
	bash deploy/local/down.sh

.PHONY: test
test: infra-up ## run the whole suite against real Kafka, PostgreSQL and Vault
	cargo test $(BOOK_CRATE) --quiet
	uv run --frozen --no-sync pytest $(PYTEST_ARGS)

.PHONY: chaos
chaos: install ## the chaos suite alone (part of `make test`): its own platform, ~5 min
	uv run --frozen --no-sync pytest tests/chaos -s $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: install ## run only the tests that need no infrastructure
	cargo test $(BOOK_CRATE) --quiet
	uv run --frozen --no-sync pytest -m 'not integration' $(PYTEST_ARGS)

.PHONY: lint
lint: install ## ruff (lint + format check), mypy (strict on libs/), rustfmt and clippy
	uv run --frozen --no-sync ruff check .
	uv run --frozen --no-sync ruff format --check .
	uv run --frozen --no-sync mypy libs services tests bench conftest.py
# Kubernetes manifests (docs/DEPLOY.md): every kustomization rendered, validated against the
# Kubernetes schemas offline, and checked against each service's settings, port and routes.
	uv run --frozen --no-sync pytest tests/k8s -q -p no:cacheprovider
	cargo fmt $(BOOK_CRATE) --check
	cargo clippy $(BOOK_CRATE) --all-targets --quiet -- -D warnings

.PHONY: fmt
fmt: install ## format and autofix
	uv run --frozen --no-sync ruff format .
	uv run --frozen --no-sync ruff check --fix .
	cargo fmt $(BOOK_CRATE)

.PHONY: proto
proto: install ## regenerate the Python code of proto/ (committed)
	uv run --frozen --no-sync python -m eip.events.codegen

.PHONY: topics
topics: ## create or reconcile every Kafka topic of the registry
	eval "$$(bash deploy/local/env.sh)" && uv run --frozen --no-sync python -m eip.bus.admin create-topics

.PHONY: compose-config
compose-config: ## validate docker-compose.yml with docker compose (no engine needed)
	bash deploy/local/compose.sh -f docker-compose.yml config --quiet
