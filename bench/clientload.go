package bench

import (
	"context"
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gantry-proxy/gantry/tls"
)

// backendWorkers query with a Gantry backend's client, as the proxy dials
// a TLS upstream: the client-side rows, where the backend under test is the
// one originating connections and the server (gostd) is the fixed side.
// Each worker compiles its own client, so with resume each has its own
// session cache, as the crypto/tls workers do.
func backendWorkers(addr, backend, version string, resume bool) (workerFactory, error) {
	bk, err := tls.Lookup(backend)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	cfg := tls.ClientConfig{
		// The server is this run's throwaway self-signed certificate; its
		// CertificateVerify signature is still checked in the handshake.
		DisableVerifyCert: true,
		// X25519 first, as the crypto/tls load sends; P-256 for TLS 1.2's
		// certificate-curve negotiation.
		Groups:              []string{"X25519", "P-256"},
		ALPN:                []string{"http/1.1"},
		DisableSessionCache: !resume,
		SessionCacheSize:    4,
		HandshakeTimeout:    10 * time.Second,
	}
	switch version {
	case "1.3":
		cfg.Policy = tls.PolicyModern
	case "1.2":
		cfg.Policy, cfg.MaxVersion = tls.PolicyIntermediate, tls.VersionTLS12
	default:
		return nil, fmt.Errorf("bench: unknown TLS version %q", version)
	}
	return func() (queryFunc, func(), error) {
		c := cfg
		cl, err := bk.NewClient(&c)
		if err != nil {
			return nil, nil, fmt.Errorf("bench: %s client: %w", backend, err)
		}
		q := func(buf []byte) (stdtls.ConnectionState, error) { return backendQuery(addr, cl, buf) }
		return q, func() { _ = cl.Close() }, nil
	}, nil
}

func backendQuery(addr string, cl tls.Client, buf []byte) (stdtls.ConnectionState, error) {
	var none stdtls.ConnectionState
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return none, err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	tc := cl.Client(raw, "localhost")
	defer tc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return none, err
	}
	if _, err := tc.Write([]byte{cmdQuery}); err != nil {
		return none, err
	}
	if _, err := io.ReadFull(tc, buf); err != nil {
		return none, err
	}
	return tc.ConnectionState(), nil
}
