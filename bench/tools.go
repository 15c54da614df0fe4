package bench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// HTTPResult is one wrk or h2load run.
type HTTPResult struct {
	RPS   float64
	P50ms float64
	P99ms float64
}

var (
	wrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkPct     = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkErrors  = regexp.MustCompile(`(?m)^\s+Non-2xx or 3xx responses:\s+(\d+)`)
	wrkSockErr = regexp.MustCompile(`(?m)^\s+Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	h2Finished = regexp.MustCompile(`(?m)^finished in [0-9.]+\w*, ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`(?m)^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored`)
	h2Proto    = regexp.MustCompile(`(?m)^Application protocol: (\S+)`)
)

// parseWrk reads `wrk --latency` output.
func parseWrk(out string) (HTTPResult, error) {
	m := wrkRPS.FindStringSubmatch(out)
	if m == nil {
		return HTTPResult{}, fmt.Errorf("bench: no Requests/sec in wrk output: %.200q", out)
	}
	var r HTTPResult
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	for _, pm := range wrkPct.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(pm[2], 64)
		switch pm[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if pm[1] == "50" {
			r.P50ms = v
		} else {
			r.P99ms = v
		}
	}
	if r.P50ms == 0 || r.P99ms == 0 {
		return r, errors.New("bench: no latency distribution in wrk output (was --latency given?)")
	}
	if m := wrkErrors.FindStringSubmatch(out); m != nil && m[1] != "0" {
		return r, fmt.Errorf("bench: wrk saw %s non-2xx responses", m[1])
	}
	if m := wrkSockErr.FindStringSubmatch(out); m != nil {
		// Timeouts and read errors at the end of a run are how wrk reports
		// connections cut by its own deadline; only connect errors mean the
		// proxy refused work.
		if m[1] != "0" {
			return r, fmt.Errorf("bench: wrk could not connect %s times", m[1])
		}
	}
	return r, nil
}

// parseH2load reads h2load's summary; latencies come from its per-request
// log (h2load prints only mean and deviation itself).
func parseH2load(out, logFile string) (HTTPResult, error) {
	if m := h2Proto.FindStringSubmatch(out); m == nil || m[1] != "h2" {
		return HTTPResult{}, errors.New("bench: h2load did not negotiate h2 (no ALPN h2 on the server?)")
	}
	m := h2Finished.FindStringSubmatch(out)
	if m == nil {
		return HTTPResult{}, fmt.Errorf("bench: no req/s in h2load output: %.200q", out)
	}
	var r HTTPResult
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	if rq := h2Requests.FindStringSubmatch(out); rq != nil && rq[4] == "0" {
		return r, errors.New("bench: h2load: no request succeeded")
	}
	lat, err := readH2loadLog(logFile)
	if err != nil {
		return r, err
	}
	r.P50ms = Percentile(lat, 50)
	r.P99ms = Percentile(lat, 99)
	return r, nil
}

// readH2loadLog returns the request durations in ms from h2load's
// --log-file: tab-separated start time (µs since epoch), status, duration
// (µs). Only 2xx responses count.
func readH2loadLog(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: h2load log: %w", err)
	}
	defer f.Close()
	var out []float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 3 || !strings.HasPrefix(fields[1], "2") {
			continue
		}
		us, err := strconv.ParseFloat(strings.TrimSpace(fields[2]), 64)
		if err != nil {
			continue
		}
		out = append(out, us/1000)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: h2load log: %w", err)
	}
	if len(out) == 0 {
		return nil, errors.New("bench: h2load log has no successful request")
	}
	return out, nil
}
