package gostd_test

import (
	"testing"

	"github.com/gantry-proxy/gantry/tls/gostd"
	"github.com/gantry-proxy/gantry/tls/tlstest"
)

// The handshake fuzzers live in tlstest so that every backend is fuzzed by
// the same harness; see tlstest.FuzzServerHandshake.

func FuzzServerHandshake(f *testing.F) { tlstest.FuzzServerHandshake(f, gostd.Backend()) }

func FuzzClientHandshake(f *testing.F) { tlstest.FuzzClientHandshake(f, gostd.Backend()) }
