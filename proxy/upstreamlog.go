package proxy

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gantry-proxy/gantry/proxy/upstream"
)

// upstreamLogEvery is how often one server's failures may write a line:
// an outage must show at the default level, but a flood of failed
// requests must not become a flood of log lines.
const upstreamLogEvery = 10 * time.Second

// upstreamLogMax bounds the servers tracked; peers chosen by a hook can
// name any address, and the table must not grow with them.
const upstreamLogMax = 4096

// upstreamLog writes failed upstream attempts at warn, at most one line
// per server every upstreamLogEvery, each saying how many were left out
// since the previous one.
type upstreamLog struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	servers map[string]*upstreamLogState
}

type upstreamLogState struct {
	last       time.Time
	suppressed int
}

func newUpstreamLog(log *slog.Logger) *upstreamLog {
	return &upstreamLog{log: log, now: time.Now, servers: make(map[string]*upstreamLogState)}
}

func (u *upstreamLog) failed(group, addr string, attempt int, err error) {
	if !u.log.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	now := u.now()
	key := group + "\x00" + addr
	u.mu.Lock()
	st := u.servers[key]
	if st == nil {
		if len(u.servers) >= upstreamLogMax {
			clear(u.servers)
		}
		st = &upstreamLogState{}
		u.servers[key] = st
	} else if now.Sub(st.last) < upstreamLogEvery {
		st.suppressed++
		u.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	u.mu.Unlock()
	u.log.Warn("upstream request failed", "upstream", group, "server", addr, "kind", failureKind(err),
		"attempt", attempt, "err", err, "suppressed", suppressed)
}

// state logs a server's health changes, which happen once per outage.
func (u *upstreamLog) state(group, addr string, st upstream.ServerState, reason error) {
	attrs := []any{"upstream", group, "server", addr, "state", string(st)}
	if reason != nil {
		attrs = append(attrs, "kind", failureKind(reason), "err", reason)
	}
	switch st {
	case upstream.StateEjected, upstream.StateUnhealthy:
		u.log.Warn("upstream server is out of rotation", attrs...)
	default:
		u.log.Info("upstream server is back in rotation", attrs...)
	}
}

// failureKind names what went wrong in terms an operator acts on.
func failureKind(err error) string {
	switch {
	case errors.Is(err, upstream.ErrTimeout), errors.Is(err, context.DeadlineExceeded), isNetTimeout(err):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case upstream.IsConnectError(err):
		if strings.Contains(err.Error(), "TLS (") {
			return "tls"
		}
		return "connect"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	}
	return "response"
}

func isNetTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
