package proxy

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/gantry-proxy/gantry/proxy/upstream"
)

// TestUpstreamFailuresLogBounded: a refused upstream shows at warn with the
// server, kind and reason, and a flood of failures writes one line per
// server per interval, the next one counting what was left out.
func TestUpstreamFailuresLogBounded(t *testing.T) {
	var buf bytes.Buffer
	u := newUpstreamLog(slog.New(slog.NewTextHandler(&buf, nil))) // info: the default level
	now := time.Unix(1000, 0)
	u.now = func() time.Time { return now }
	refused := &upstream.ConnectError{Addr: "10.0.0.1:80", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}
	for range 1000 {
		u.failed("app", "10.0.0.1:80", 1, refused)
		u.failed("app", "10.0.0.2:80", 1, fmt.Errorf("read: %w", syscall.ECONNRESET))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.Len(t, lines, 2)
	assert.Contains(t, lines[0], "level=WARN")
	assert.Contains(t, lines[0], "server=10.0.0.1:80 kind=refused")
	assert.Contains(t, lines[0], "connection refused")
	assert.Contains(t, lines[1], "kind=reset")

	buf.Reset()
	now = now.Add(upstreamLogEvery)
	u.failed("app", "10.0.0.1:80", 1, refused)
	assert.Contains(t, buf.String(), "suppressed=999")
}

func TestUpstreamStateLogged(t *testing.T) {
	var buf bytes.Buffer
	u := newUpstreamLog(slog.New(slog.NewTextHandler(&buf, nil)))
	u.state("app", "10.0.0.1:80", upstream.StateEjected, upstream.ErrTimeout)
	u.state("app", "10.0.0.1:80", upstream.StateRecovered, nil)
	out := buf.String()
	assert.Contains(t, out, "level=WARN msg=\"upstream server is out of rotation\" upstream=app server=10.0.0.1:80 state=ejected kind=timeout")
	assert.Contains(t, out, "level=INFO msg=\"upstream server is back in rotation\" upstream=app server=10.0.0.1:80 state=recovered")
}
