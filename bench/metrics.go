package bench

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
	return "hs_" + mode + "_" + h.Cert + "_" + v
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
	return out
}()

// Metrics is the catalogue of rows, in table order.
var Metrics = func() []Metric {
	var out []Metric
	for _, h := range handshakeCases {
		out = append(out, Metric{ID: h.id(), Label: h.label(), Unit: "conn/s"})
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

// MetricByID finds a catalogue entry.
func MetricByID(id string) (Metric, bool) {
	for _, m := range Metrics {
		if m.ID == id {
			return m, true
		}
	}
	return Metric{}, false
}
