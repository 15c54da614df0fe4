package main

import (
	"net/http"
)

// health adds /healthz and /readyz to the metrics listener, for a load
// balancer or an orchestrator's probes. /healthz answers 200 while the
// process runs at all (a liveness probe that restarts it otherwise);
// /readyz answers 200 only while ready reports nil (listeners bound,
// config loaded, not draining) and 503 with the reason otherwise, so a
// balancer stops sending new connections before the drain cuts any.
func (s *metricsServer) health(ready func() error) {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(err.Error() + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}
