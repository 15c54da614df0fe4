# End-to-end checks against the built binaries.
#
#   make h2spec    HTTP/2 conformance (h2spec) of `gantry serve` on every backend build
#
# The Go end-to-end tests (test/e2e: curl over HTTP/1.1 and HTTP/2 through
# every downstream x upstream backend pair, `gantry check`, `gantry serve`
# with no config, SIGTERM, privilege drop) run with the rest of the Go suite
# in `make test-go`; they need curl.

APT_PACKAGES += curl nghttp2-client
# h2spec v2.2.1 has no go.mod, so its dependencies are pinned by
# tools/h2spec/go.mod (a module of its own, outside ./...).
GO_TOOL_MODULES += tools/h2spec
EXTRA_TESTS  += h2spec

.PHONY: h2spec
h2spec: build
	bash test/e2e/h2spec.sh $(BIN)/gantry $(BIN)/gantry-openssl $(BIN)/gantry-boringssl
