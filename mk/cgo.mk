# The C backends under AddressSanitizer. LeakSanitizer is off because a Go
# program exits without running libc's atexit handlers, so LSan never gets
# to report; TestLeak in tls/internal/sslconn (RSS and C-heap growth over
# many handshakes, on the real engine) covers leaks instead. GANTRY_LEAK_FULL=1 makes that test run 20,000
# handshakes and 1 GiB per backend.

EXTRA_TESTS += test-asan
ASAN_ENV := CC=gcc ASAN_OPTIONS=detect_leaks=0:halt_on_error=1

.PHONY: test-asan test-leak-full
test-asan: deps
	$(ASAN_ENV) $(GO) test -asan -count=1 -tags openssl ./cgo/... ./tls/internal/sslconn/... ./tls/openssl/...
	$(ASAN_ENV) $(GO) test -asan -count=1 -tags boringssl ./cgo/... ./tls/internal/sslconn/... ./tls/boring/...

test-leak-full: deps
	GANTRY_LEAK_FULL=1 $(GO) test -count=1 -v -tags openssl -run TestLeak ./tls/internal/sslconn
	GANTRY_LEAK_FULL=1 $(GO) test -count=1 -v -tags boringssl -run TestLeak ./tls/internal/sslconn
