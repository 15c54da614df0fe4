# Benchmarks: every TLS backend side by side, and nginx/HAProxy for the
# proxied rows. See docs/BENCHMARKS.md.
#
#   make bench                                     2 runs on 1 and 2 CPUs, ~15 min on 2 cores
#   make bench BENCH_CPUS=1 BENCH_RUNS=3           the old single split, ~10 min
#   make bench BENCH_RUNS=1 BENCH_FLAGS=--quick    smoke test, ~4 min
#
# openssl and boringssl cannot share a binary, so gostd and openssl are
# measured by bin/gantry-openssl and boringssl by bin/gantry-boringssl; the
# two reports are merged into one table and chart. gostd is measured once.

# fonts-liberation: the chart is measured with Liberation Sans, so the PNG
# rsvg-convert makes of it has every label where it was measured to fit.
APT_PACKAGES += wrk nghttp2-client nginx-light haproxy util-linux fonts-liberation

BENCH_OUT     ?= $(BIN)/bench-out
BENCH_RUNS    ?= 2
BENCH_CPUS    ?= 1,2
BENCH_COMPARE ?= nginx,haproxy
BENCH_FLAGS   ?=

.PHONY: bench bench-binaries

bench-binaries: deps
	$(GO) build -tags openssl -o $(BIN)/gantry-openssl ./cmd/gantry
	$(GO) build -tags boringssl -o $(BIN)/gantry-boringssl ./cmd/gantry

bench: bench-binaries
	$(BIN)/gantry-openssl bench --runs $(BENCH_RUNS) --cpus $(BENCH_CPUS) --backends gostd,openssl \
	  --compare $(BENCH_COMPARE) --out $(BENCH_OUT)/openssl $(BENCH_FLAGS) > /dev/null
	$(BIN)/gantry-boringssl bench --runs $(BENCH_RUNS) --cpus $(BENCH_CPUS) --backends boringssl \
	  --out $(BENCH_OUT)/boringssl $(BENCH_FLAGS) > /dev/null
	$(BIN)/gantry-openssl bench merge $(BENCH_OUT)/openssl/results.json \
	  $(BENCH_OUT)/boringssl/results.json --out $(BENCH_OUT)
	@echo "bench: table $(BENCH_OUT)/table.md, JSON $(BENCH_OUT)/results.json, chart $(BENCH_OUT)/chart.svg (and .png), report $(BENCH_OUT)/report.html"
