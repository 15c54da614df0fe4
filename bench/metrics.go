package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Metric describes one row of the report.
type Metric struct {
	ID    string
	Label string // short, for table rows and chart groups
	Unit  string
	// LowerIsBetter marks latency and memory rows, whose ratios read the
	// other way round.
	LowerIsBetter bool
	// Proxied rows go through `gantry serve` (or a compared proxy) and are
	// the only rows the compared proxies appear in.
	Proxied bool
	// Client rows measure the backend originating connections (as the
	// proxy does to a TLS upstream) against a fixed crypto/tls server.
	Client bool
	// CPUs is how many CPUs the subject ran on: 1 unless the row comes from
	// a --cpus sweep. It is part of ID ("h1_rps@2cpu") and Label.
	CPUs int
}

// Kind groups rows measured in the same unit and direction: one chart
// panel each.
func (m Metric) Kind() string {
	switch {
	case m.Unit == "conn/s" && m.Client:
		return "client handshakes"
	case m.Unit == "conn/s":
		return "server handshakes"
	case m.Unit == "ms" && (strings.HasSuffix(m.ID, "_p50") || strings.Contains(m.ID, "_p50@")):
		return "latency p50"
	case m.Unit == "ms":
		return "latency p99"
	}
	return m.Unit
}

// AtCPUs is the ID of metric id measured with the subject on n CPUs. One
// CPU is the plain ID, so reports from before the sweep read the same.
func AtCPUs(id string, n int) string {
	if n <= 1 {
		return id
	}
	return id + "@" + strconv.Itoa(n) + "cpu"
}

// splitCPUs undoes AtCPUs.
func splitCPUs(id string) (base string, n int) {
	base, suffix, ok := strings.Cut(id, "@")
	if !ok {
		return id, 1
	}
	n, err := strconv.Atoi(strings.TrimSuffix(suffix, "cpu"))
	if err != nil || n < 1 || !strings.HasSuffix(suffix, "cpu") {
		return id, 0
	}
	return base, n
}

// Metric IDs, in table order.
const (
	MetricBulk    = "bulk"
	MetricH1RPS   = "h1_rps"
	MetricH1P50   = "h1_p50"
	MetricH1P99   = "h1_p99"
	MetricH2RPS   = "h2_rps"
	MetricH2P50   = "h2_p50"
	MetricH2P99   = "h2_p99"
	MetricIdleMem = "idle_mem"
)

// handshakeCase is one handshake row: certificate type, protocol version and
// whether the client resumes.
type handshakeCase struct {
	Resume  bool
	Cert    string // "ecdsa" or "rsa"
	Version string // "1.2" or "1.3"
	// Hello puts Gantry's ClientHello reader and JA4 in front of the
	// backend's handshake, as a listener does: the pair of rows with and
	// without it is the inspection's cost.
	Hello bool
}

// addr picks the server address of the case from the bench server's.
func (h handshakeCase) addr(addrs map[string]string) string {
	if h.Hello {
		return addrs["hello"]
	}
	return addrs[h.Cert]
}

func (h handshakeCase) id() string {
	mode := "full"
	if h.Resume {
		mode = "resume"
	}
	v := "tls13"
	if h.Version == "1.2" {
		v = "tls12"
	}
	cert := h.Cert
	if h.Hello {
		cert += "_hello"
	}
	return "hs_" + mode + "_" + cert + "_" + v
}

// clientID is the ID of the client-side row of the same case.
func (h handshakeCase) clientID() string { return "client_" + h.id() }

// clientHandshakeCases are the client-side rows. ECDSA only: with RSA the
// fixed server's signature, not the client under test, bounds the rate.
var clientHandshakeCases = []handshakeCase{
	{Cert: "ecdsa", Version: "1.3"},
	{Cert: "ecdsa", Version: "1.2"},
	{Resume: true, Cert: "ecdsa", Version: "1.3"},
}

func (h handshakeCase) label() string {
	mode := "full HS"
	if h.Resume {
		mode = "resumed HS"
	}
	cert := "ECDSA"
	if h.Cert == "rsa" {
		cert = "RSA"
	}
	if h.Hello {
		cert += " +JA4"
	}
	return mode + " " + cert + " TLS" + h.Version
}

// handshakeCases is every handshake row in table order.
var handshakeCases = func() []handshakeCase {
	var out []handshakeCase
	for _, resume := range []bool{false, true} {
		for _, cert := range []string{"ecdsa", "rsa"} {
			for _, v := range []string{"1.3", "1.2"} {
				out = append(out, handshakeCase{Resume: resume, Cert: cert, Version: v})
			}
		}
	}
	for _, v := range []string{"1.3", "1.2"} {
		out = append(out, handshakeCase{Cert: "ecdsa", Version: v, Hello: true})
	}
	return out
}()

// Metrics is the catalogue of rows, in table order.
var Metrics = func() []Metric {
	var out []Metric
	for _, h := range handshakeCases {
		out = append(out, Metric{ID: h.id(), Label: h.label(), Unit: "conn/s"})
	}
	for _, h := range clientHandshakeCases {
		out = append(out, Metric{ID: h.clientID(), Label: "client " + h.label(), Unit: "conn/s", Client: true})
	}
	out = append(out,
		Metric{ID: MetricBulk, Label: "bulk TLS1.3", Unit: "MB/s"},
		Metric{ID: MetricH1RPS, Label: "h1 proxied", Unit: "req/s", Proxied: true},
		Metric{ID: MetricH1P50, Label: "h1 p50", Unit: "ms", LowerIsBetter: true, Proxied: true},
		Metric{ID: MetricH1P99, Label: "h1 p99", Unit: "ms", LowerIsBetter: true, Proxied: true},
		Metric{ID: MetricH2RPS, Label: "h2 proxied", Unit: "req/s", Proxied: true},
		Metric{ID: MetricH2P50, Label: "h2 p50", Unit: "ms", LowerIsBetter: true, Proxied: true},
		Metric{ID: MetricH2P99, Label: "h2 p99", Unit: "ms", LowerIsBetter: true, Proxied: true},
		Metric{ID: MetricIdleMem, Label: "memory per idle conn", Unit: "KiB", LowerIsBetter: true},
	)
	return out
}()

// MetricByID finds a catalogue entry; an ID from a --cpus sweep
// ("h1_rps@2cpu") gives the entry with CPUs and Label set.
func MetricByID(id string) (Metric, bool) {
	base, n := splitCPUs(id)
	for _, m := range Metrics {
		if m.ID == base && n >= 1 {
			return m.at(n), true
		}
	}
	return Metric{}, false
}

// at is m measured on n CPUs. The label says so for more than one; a
// report that swept CPU counts labels its one-CPU rows too (presentMetrics).
func (m Metric) at(n int) Metric {
	m.CPUs = n
	m.ID = AtCPUs(m.ID, n)
	if n > 1 {
		m.Label += fmt.Sprintf(" · %d CPUs", n)
	}
	return m
}
