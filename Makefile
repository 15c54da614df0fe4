# Gantry: `make run` serves on the embedded default config, `make test` runs
# everything on all three TLS backends. `make deps` (called by both) installs
# what a fresh Debian 12 machine lacks.

SHELL      := /bin/bash
GO         ?= go
BIN        := $(CURDIR)/bin
TOOLS      := $(BIN)/tools
export PATH := $(TOOLS):$(PATH)
# -race needs cgo; every build here is cgo-enabled anyway for the C backends.
export CGO_ENABLED := 1
# The Go toolchain every target uses: go1.27.3, which the go command fetches
# from the Go module proxy on first use (about 76 MB, once per machine). The
# machine's own go1.26.8 has reachable standard-library advisories (see
# SECURITY.md). `make GOTOOLCHAIN=local …` builds with the machine's Go.
export GOTOOLCHAIN := go1.27.3

# Debian packages and Go tools the build and tests need. Fragments in mk/
# append to these.
APT_PACKAGES := pkg-config libssl-dev android-libboringssl-dev openssl curl ca-certificates gcc librsvg2-bin
GO_TOOLS     :=
# Directories holding a go.mod whose `tool` lines name tools without a go.mod
# of their own: built from there, so go.sum pins their dependencies.
GO_TOOL_MODULES :=

# The three backend builds: gostd alone, gostd+openssl, gostd+boringssl.
# openssl and boringssl export the same C symbols and never share a binary.
BACKEND_TAGS := "" openssl boringssl
TEST_TIMEOUT ?= 15m

.PHONY: all deps build run test test-go lint help
all: build

help:
	@echo "make run     serve on the embedded default config (https://127.0.0.1:8443)"
	@echo "make test    deps, then the whole suite under -race for gostd, openssl, boringssl"
	@echo "make build   bin/gantry (gostd), bin/gantry-openssl, bin/gantry-boringssl"
	@echo "make deps    install missing Debian packages and Go tools (apt-get, go install)"
	@echo "make lint | audit | fuzz FUZZTIME=30s | test-asan | bench"

include $(wildcard mk/*.mk)

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p $(TOOLS)
	@for t in $(GO_TOOLS); do \
	  name=$$(basename $${t%@*}); \
	  [ -x $(TOOLS)/$$name ] || { echo "deps: go install $$t"; GOBIN=$(TOOLS) $(GO) install $$t || exit 1; }; \
	done
	@for m in $(GO_TOOL_MODULES); do \
	  for t in $$($(GO) -C $$m list tool); do \
	    name=$$(basename $$t); \
	    [ -x $(TOOLS)/$$name ] || { echo "deps: go build $$t (pinned by $$m/go.mod)"; $(GO) -C $$m build -o $(TOOLS)/$$name $$t || exit 1; }; \
	  done; \
	done

build: deps
	$(GO) build -o $(BIN)/gantry ./cmd/gantry
	$(GO) build -tags openssl -o $(BIN)/gantry-openssl ./cmd/gantry
	$(GO) build -tags boringssl -o $(BIN)/gantry-boringssl ./cmd/gantry

run: deps
	$(GO) run ./cmd/gantry serve

# test-go runs the Go suite once per backend build, under the race detector.
test-go: deps
	@set -e; for tags in $(BACKEND_TAGS); do \
	  echo "== go test -race -tags '$$tags' ./..."; \
	  $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -tags "$$tags" ./...; \
	done

test: test-go $(EXTRA_TESTS)
