package upstream

import (
	"time"

	"github.com/gantry-proxy/gantry/certs"
	gantrytls "github.com/gantry-proxy/gantry/tls"
)

// Balance policies for a group, as the configuration names them.
const (
	BalanceRoundRobin = "round_robin"
	BalanceLeastConn  = "least_conn"
)

// GroupOptions is a set of interchangeable origin servers.
type GroupOptions struct {
	// Name of the group; routes refer to it. It is the key the group has
	// in the configuration's upstreams map.
	Name string `yaml:"-"`
	// Addrs are "host:port" of the servers. An IP address is one server; a
	// host name stands for every address it resolves to, resolved again in
	// the background (see DNSOptions). At least one address or SRV is
	// required.
	Addrs []string `yaml:"addresses"`
	// SRV names an SRV record (e.g. "_https._tcp.api.internal") whose
	// targets are servers of the group as well, at the ports it gives:
	// only the lowest priority with an available server gets requests, in
	// proportion to the weights.
	SRV string `yaml:"srv"`
	// Balance picks a server for each request: "round_robin" (the
	// default) takes them in turn, "least_conn" the one with the fewest
	// requests in flight.
	Balance string `yaml:"balance"`
	// Health decides which servers are skipped: passively, from failed
	// requests, and actively, by probing them when a check is set.
	Health HealthOptions `yaml:"health"`
	// TLS dials the servers over TLS. Without it they are spoken to in
	// plain HTTP/1.1.
	TLS *TLS `yaml:"tls"`
	// MaxIdleConns bounds the idle keep-alive connections kept per server.
	// Zero means 32; negative disables pooling.
	MaxIdleConns int `yaml:"max_idle_conns"`
	// IdleConnTimeout closes pooled connections unused this long. Zero means
	// 60s.
	IdleConnTimeout time.Duration `yaml:"idle_conn_timeout"`
}

// HealthOptions is a group's health checking.
type HealthOptions struct {
	// MaxFails consecutive failures (connect, TLS, or a response head that
	// did not come in time) eject a server for eject_for. Zero means 3;
	// negative turns passive health checking off.
	MaxFails int `yaml:"max_fails"`
	// EjectFor is how long an ejected server is skipped. Zero means 10s.
	// When every server of a group is ejected, they are all tried anyway:
	// a guess beats a certain 502.
	EjectFor time.Duration `yaml:"eject_for"`
	// Check, when set, probes each server in the background and skips the
	// ones that fail.
	Check *HealthCheckOptions `yaml:"check"`
}

// HealthCheckOptions is an active health check: a GET of Path on every
// server each Interval, on a fresh connection.
type HealthCheckOptions struct {
	// Path requested, e.g. "/healthz". Required.
	Path string `yaml:"path"`
	// Interval between probes. Zero means 10s.
	Interval time.Duration `yaml:"interval"`
	// Timeout of one probe (connect to end of response head). Zero means 2s.
	Timeout time.Duration `yaml:"timeout"`
	// ExpectStatus is the status a healthy server answers. Zero means any
	// 2xx or 3xx.
	ExpectStatus int `yaml:"expect_status"`
}

// TLS selects the TLS backend and configuration for a group.
type TLS struct {
	// Backend is the registry name of the TLS backend: "gostd" (the
	// default when empty), "openssl" or "boringssl".
	Backend string `yaml:"backend"`
	// ServerName is sent as SNI and verified against the certificate. Empty
	// means the host part of each server's address.
	ServerName string `yaml:"server_name"`
	// Config is compiled once by the backend. Certificates are verified by
	// default. When its ALPN list is empty it defaults to ["http/1.1"];
	// set ["h2", "http/1.1"] to let servers pick HTTP/2.
	Config gantrytls.ClientConfig `yaml:",inline"`
	// Files name the CA and the client certificate the client is compiled
	// from; when any is set the client is a certs.Client, so the files can
	// be reloaded without a restart. Empty, Config is used as it is.
	Files certs.ClientFiles `yaml:",inline"`
}
