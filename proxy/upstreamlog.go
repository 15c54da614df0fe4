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
	dns     map[string]*dnsLogState // by group: the groups are the config's
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

// dnsLogState is what the log last said about a group's resolution.
type dnsLogState struct {
	logged     string // state last written: ok, empty or error
	last       time.Time
	suppressed int
}

// resolved logs a group's resolutions: every change of its servers once,
// and a change between resolving, failing and resolving to nothing once
// too, at most one such line per group every upstreamLogEvery. A change
// left out then is written at the first resolution after that time, with
// suppressed counting the changes left out.
func (u *upstreamLog) resolved(ev upstream.ResolveEvent) {
	if len(ev.Added)+len(ev.Removed) > 0 {
		u.log.Info("upstream servers changed", "upstream", ev.Group, "added", ev.Added, "removed", ev.Removed, "servers", ev.Servers)
	}
	state := ev.Result
	if state == upstream.ResolveChanged {
		state = upstream.ResolveOK
	}
	now := u.now()
	u.mu.Lock()
	if u.dns == nil {
		u.dns = make(map[string]*dnsLogState)
	}
	st := u.dns[ev.Group]
	if st == nil {
		st = &dnsLogState{logged: upstream.ResolveOK}
		u.dns[ev.Group] = st
	}
	if state == st.logged {
		u.mu.Unlock()
		return
	}
	if !st.last.IsZero() && now.Sub(st.last) < upstreamLogEvery {
		st.suppressed++
		u.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.logged, st.last, st.suppressed = state, now, 0
	u.mu.Unlock()
	attrs := []any{"upstream", ev.Group, "servers", ev.Servers, "retry_in", ev.Next, "suppressed", suppressed}
	switch state {
	case upstream.ResolveError:
		u.log.Warn("upstream names did not resolve; keeping the last servers", append(attrs, "err", ev.Err)...)
	case upstream.ResolveEmpty:
		u.log.Warn("upstream names resolved to no address; keeping the last servers", attrs...)
	default:
		u.log.Info("upstream names resolve again", attrs[:4]...)
	}
}
