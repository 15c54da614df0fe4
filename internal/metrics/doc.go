// Package metrics implements proxy.Metrics with Prometheus collectors and
// serves them in the Prometheus text format.
//
// Every Metrics value owns its own registry, so two proxies in one process
// (tests, an embedding program) never share or clash over series, and
// nothing is registered with the client library's global registry.
//
// Label values come only from bounded sets: listener and upstream names from
// the config, TLS version and cipher names from the IANA registry, status
// classes ("2xx"), results ("ok", "error", "timeout") and configured
// upstream addresses. This package must never put a request path, a Host
// header, a client address or an error message into a label, since each
// distinct value is a new time series kept for the life of the process; and
// it must never do work on the request path beyond updating a counter.
package metrics
