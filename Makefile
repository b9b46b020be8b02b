# Two commands set everything up on a fresh machine:
#   make run    install, build, serve examples/values-local.yaml (log emitter, store in ./.data)
#   make test   install (npm packages and the real registry's Debian packages), lint, typecheck, test
SHELL := /bin/bash
NPM_STAMP := node_modules/.installed
CONFIG ?= examples/values-local.yaml

.PHONY: run build test test-unit deps system-deps lint format typecheck bench validate clean

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NPM_STAMP)

build: $(NPM_STAMP)
	npm run build

run: build
	node dist/cli.js serve --config $(CONFIG)

validate: build
	node dist/cli.js validate --config $(CONFIG)

# The real-registry test needs Distribution's registry and skopeo: Debian packages them.
system-deps:
	@if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing docker-registry and skopeo"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry skopeo >/dev/null; \
	  else \
	    echo "docker-registry/skopeo missing and cannot apt-get install them (not root?)"; \
	  fi; \
	fi

# ESLint with type-aware rules, then Prettier's check (`make format` rewrites).
lint: $(NPM_STAMP)
	npm run lint

format: $(NPM_STAMP)
	npm run format

typecheck: $(NPM_STAMP)
	npm run typecheck

test: $(NPM_STAMP) lint system-deps typecheck build
	npm test

bench: build system-deps
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	npx tsx bench/run.ts

clean:
	rm -rf dist .data
