package proxy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/gantry-proxy/gantry/proxy/listen"
	"github.com/gantry-proxy/gantry/proxy/upstream"
)

// Defaults for zero fields of Timeouts, Limits, upstream groups and the
// connection filter: the one place they are set (the upstream and listen
// packages own theirs; they are repeated here under the proxy's names).
const (
	DefaultTLSHandshake           = 10 * time.Second
	DefaultRequestHeader          = 10 * time.Second
	DefaultRequestBody            = 60 * time.Second
	DefaultResponseWrite          = 60 * time.Second
	DefaultKeepaliveIdle          = 60 * time.Second
	DefaultH2StreamIdle           = 60 * time.Second
	DefaultUpstreamConnect        = 5 * time.Second
	DefaultUpstreamTLSHandshake   = 10 * time.Second
	DefaultUpstreamResponseHeader = 60 * time.Second
	DefaultUpstreamRead           = 60 * time.Second
	DefaultUpstreamWrite          = 60 * time.Second
	DefaultShutdownGrace          = 30 * time.Second

	DefaultMaxHeaderBytes         = 64 << 10
	DefaultMaxHeaderCount         = 100
	DefaultH2MaxConcurrentStreams = 100

	DefaultMaxFails            = upstream.DefaultMaxFails
	DefaultEjectFor            = upstream.DefaultEjectFor
	DefaultMaxIdleConns        = upstream.DefaultMaxIdleConns
	DefaultIdleConnTimeout     = upstream.DefaultIdleConnTimeout
	DefaultHealthCheckInterval = upstream.DefaultCheckInterval
	DefaultHealthCheckTimeout  = upstream.DefaultCheckTimeout
	DefaultDNSTimeout          = upstream.DefaultDNSTimeout
	DefaultDNSMinTTL           = upstream.DefaultDNSMinTTL
	DefaultDNSMaxTTL           = upstream.DefaultDNSMaxTTL
	DefaultDNSSystemInterval   = upstream.DefaultDNSSystemInterval

	DefaultIPv6Prefix = listen.DefaultIPv6Prefix
)

// DefaultTimeouts returns every timeout at its default.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		TLSHandshake:           DefaultTLSHandshake,
		RequestHeader:          DefaultRequestHeader,
		RequestBody:            DefaultRequestBody,
		ResponseWrite:          DefaultResponseWrite,
		KeepaliveIdle:          DefaultKeepaliveIdle,
		H2StreamIdle:           DefaultH2StreamIdle,
		UpstreamConnect:        DefaultUpstreamConnect,
		UpstreamTLSHandshake:   DefaultUpstreamTLSHandshake,
		UpstreamResponseHeader: DefaultUpstreamResponseHeader,
		UpstreamRead:           DefaultUpstreamRead,
		UpstreamWrite:          DefaultUpstreamWrite,
		ShutdownGrace:          DefaultShutdownGrace,
	}
}

// timeoutField is one timeout with its config key.
type timeoutField struct {
	key string
	d   *time.Duration
}

// fields lists the timeouts with their config keys (their yaml tags), so
// validation and merging treat all of them alike.
func (t *Timeouts) fields() []timeoutField {
	v := reflect.ValueOf(t).Elem()
	out := make([]timeoutField, 0, v.NumField())
	for i := range v.NumField() {
		key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		out = append(out, timeoutField{key, v.Field(i).Addr().Interface().(*time.Duration)})
	}
	return out
}

// validate refuses negative durations.
func (t Timeouts) validate() error {
	for _, f := range t.fields() {
		if *f.d < 0 {
			return fmt.Errorf("proxy: timeout %s is negative (%v)", f.key, *f.d)
		}
	}
	return nil
}

// over returns t with its zero fields taken from base.
func (t Timeouts) over(base Timeouts) Timeouts {
	out := t
	bf := base.fields()
	for i, f := range out.fields() {
		if *f.d == 0 {
			*f.d = *bf[i].d
		}
	}
	return out
}

// upstreamPart is the upstream part of t, every field set.
func (t Timeouts) upstreamPart() upstream.Timeouts {
	return upstream.Timeouts{
		Connect:        t.UpstreamConnect,
		TLSHandshake:   t.UpstreamTLSHandshake,
		ResponseHeader: t.UpstreamResponseHeader,
		Read:           t.UpstreamRead,
		Write:          t.UpstreamWrite,
	}
}

func (l Limits) withDefaults() (Limits, error) {
	if l.MaxHeaderBytes < 0 || l.MaxHeaderCount < 0 || l.MaxBodyBytes < 0 || l.MaxConns < 0 {
		return l, errors.New("proxy: limits must not be negative")
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaderCount == 0 {
		l.MaxHeaderCount = DefaultMaxHeaderCount
	}
	if l.H2MaxConcurrentStreams == 0 {
		l.H2MaxConcurrentStreams = DefaultH2MaxConcurrentStreams
	}
	return l, nil
}
