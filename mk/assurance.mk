# Continuous assurance: lint, an offline vulnerability audit, and fuzzing.
#
#   make lint                gofmt, go vet, staticcheck and gosec for every backend build,
#                            and SECURITY.md's list of C functions checked against the shim
#   make audit               go mod verify + govulncheck against an offline Go vulnerability DB
#   make audit-selftest      proves a reachable known vulnerability fails the audit
#   make fuzz FUZZTIME=30s   every Fuzz* target of the repo, each for FUZZTIME
#   make fuzz-short          the same for 20 s each (CI)
#   make shim-symbols        regenerate SECURITY.md's list of the C functions cgo/ calls

GO_TOOLS += honnef.co/go/tools/cmd/staticcheck@v0.8.2 \
            golang.org/x/vuln/cmd/govulncheck@v1.9.0 \
            github.com/securego/gosec/v2/cmd/gosec@v2.30.0
EXTRA_TESTS += lint audit fuzz-short

# gosec rules that do not fit this project, and why. Everything else is fixed
# or suppressed in place with `// #nosec Gnnn -- reason` (a bare #nosec fails).
#  G304 file path from a variable: every path Gantry opens comes from the
#       trusted config file or the operator's command line, never from
#       network input (SECURITY.md, trust boundaries).
#  G115 integer conversion that may overflow: it flags every conversion
#       whatever the bounds, and most hits are in the code cmd/cgo generates
#       for cgo/ (C.size_t(len(b)) and back), where a #nosec cannot be
#       written. Lengths crossing into C come from Go slices and are checked
#       by the shim; the C side runs under ASan in tests and fuzzing.
GOSEC_EXCLUDE := G304,G115
# tls/tlstest is test support (a conformance suite that plays a deliberately
# non-verifying peer), like _test.go files, which gosec skips anyway.
GOSEC_EXCLUDE_DIRS := tls/tlstest testdata bin

# The Go vulnerability database as a Go module: its version and go.sum hash
# are pinned so that the offline database is reproducible and its input is
# checked. Bump both together.
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB_SUM     := h1:mfngRv0Yoh0VApsXKEN82CjD99kl7mtparN3bs3JnqI=
VULNDB         := $(BIN)/vulndb
VULN_ACCEPT    := tools/vulngate/accepted.txt

FUZZTIME ?= 30s

.PHONY: lint lint-fmt lint-tidy lint-vet lint-staticcheck lint-gosec \
        audit vulndb audit-selftest fuzz fuzz-short shim-symbols shim-symbols-check

lint: lint-fmt lint-tidy lint-vet lint-staticcheck lint-gosec shim-symbols-check

# lint-tidy: go.mod and go.sum say exactly what the code imports (direct
# dependencies not marked indirect, nothing missing or left over).
lint-tidy: deps
	@out=$$($(GO) mod tidy -diff 2>&1) || { echo "go mod tidy: go.mod/go.sum are not tidy (run go mod tidy):"; echo "$$out"; exit 1; }; \
	echo "go mod tidy: ok"

lint-fmt:
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path './bin/*'); \
	bad=$$(gofmt -l $$files); \
	if [ -n "$$bad" ]; then echo "gofmt: these files are not formatted (run gofmt -w):"; echo "$$bad"; exit 1; fi; \
	echo "gofmt: ok"

lint-vet: deps
	@set -e; for tags in $(BACKEND_TAGS); do \
	  echo "== go vet -tags '$$tags' ./..."; \
	  $(GO) vet -tags "$$tags" ./...; \
	done

lint-staticcheck: deps
	@set -e; for tags in $(BACKEND_TAGS); do \
	  echo "== staticcheck -tags '$$tags' ./..."; \
	  staticcheck -tags "$$tags" ./...; \
	done

lint-gosec: deps
	@set -e; for tags in $(BACKEND_TAGS); do \
	  echo "== gosec -tags '$$tags' ./..."; \
	  gosec -quiet -color=false -fmt text -nosec-require-rules -nosec-require-justification \
	    -exclude '$(GOSEC_EXCLUDE)' $(foreach d,$(GOSEC_EXCLUDE_DIRS),-exclude-dir $(d)) \
	    -tags "$$tags" ./...; \
	done

# vulndb builds the database from the pinned module; the digest it prints is
# the same on every machine for the same VULNDB_VERSION.
vulndb:
	$(GO) run ./tools/vulndb -version $(VULNDB_VERSION) -sum $(VULNDB_SUM) -out $(VULNDB)
	$(GO) build -o $(BIN)/vulngate ./tools/vulngate

# audit fails on any reachable vulnerability that VULN_ACCEPT does not
# accept for that module, in any of the three backend builds.
audit: deps vulndb audit-selftest
	$(GO) mod verify
	@failed=0; mkdir -p $(BIN)/audit; for tags in $(BACKEND_TAGS); do \
	  echo "== govulncheck -tags '$$tags' ./..."; \
	  out=$(BIN)/audit/govulncheck$${tags:+-$$tags}.json; \
	  if ! govulncheck -db file://$(VULNDB) -tags "$$tags" -format json ./... > $$out; then \
	    echo "audit: govulncheck failed to scan (tags '$$tags')"; failed=1; continue; \
	  fi; \
	  $(BIN)/vulngate -accept $(VULN_ACCEPT) -label "tags='$$tags'" < $$out || failed=1; \
	done; \
	if [ $$failed -ne 0 ]; then echo "audit: FAILED (full govulncheck output under $(BIN)/audit/)"; exit 1; fi; \
	echo "audit: ok"

# audit-selftest runs the same pipeline on tools/vulndb/testdata/vulnerable,
# a separate module that calls x/net v0.22.0's HTTP/2 server, and requires it
# to fail naming GO-2024-2687 (CONTINUATION flood).
audit-selftest: deps vulndb
	@set -o pipefail; out=$(BIN)/audit/selftest.json; mkdir -p $(BIN)/audit; \
	govulncheck -C tools/vulndb/testdata/vulnerable -db file://$(VULNDB) -format json ./... > $$out || exit 1; \
	report=$$($(BIN)/vulngate -accept $(VULN_ACCEPT) -label selftest < $$out); rc=$$?; \
	if [ $$rc -ne 1 ] || ! grep -q 'FAIL reachable GO-2024-2687 golang.org/x/net' <<<"$$report"; then \
	  echo "$$report"; echo "audit-selftest: FAILED: a reachable known vulnerability did not fail the audit (vulngate exit $$rc)"; exit 1; \
	fi; \
	echo "audit-selftest: ok: the reachable GO-2024-2687 in x/net v0.22.0 fails the audit"

fuzz: deps
	tools/fuzz.sh $(FUZZTIME) $(BACKEND_TAGS)

fuzz-short: deps
	tools/fuzz.sh 20s $(BACKEND_TAGS)

# shim-symbols rewrites the generated list in SECURITY.md; -check only
# compares (run it after changing cgo/).
shim-symbols: deps
	@tools/shim-symbols.sh -update

shim-symbols-check: deps
	@tools/shim-symbols.sh -check
