package bench

import (
	"context"
	stdtls "crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// originBody is what GET / returns from the origin: 1 KiB, as in the
// anchors.
var originBody = []byte(strings.Repeat("a", replySize))

// freePort asks the kernel for a free loopback port. Another process could
// take it before it is used; the benchmark owns the machine while it runs,
// so that is accepted rather than threading listeners through configs.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("bench: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// originMain is `gantry bench origin`: a plain-HTTP keep-alive origin for
// machines without nginx.
func originMain(args []string) error {
	fs := flag.NewFlagSet("bench origin", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("bench: origin listen: %w", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(originBody)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		_ = srv.Close()
	}()
	fmt.Printf("ready pid=%d origin=%s\n", os.Getpid(), ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bench: origin: %w", err)
	}
	return nil
}

// startOrigin runs nginx (as the anchors do) or, without nginx, the Go
// origin, on the load CPUs. It returns the process, its port and its kind.
func (b *bencher) startOrigin() (*child, int, string, error) {
	if nginx, err := exec.LookPath("nginx"); err == nil {
		port, err := freePort()
		if err != nil {
			return nil, 0, "", err
		}
		dir := filepath.Join(b.work, "origin")
		if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil { // #nosec G301 -- nginx's unprivileged worker serves it
			return nil, 0, "", fmt.Errorf("bench: origin dir: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "www", "index.html"), originBody, 0o644); err != nil { // #nosec G306 -- a public 1 KiB test body nginx's unprivileged worker serves
			return nil, 0, "", fmt.Errorf("bench: origin body: %w", err)
		}
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(nginxOriginConf(dir, port)), 0o600); err != nil {
			return nil, 0, "", fmt.Errorf("bench: origin config: %w", err)
		}
		c, err := startChild("nginx origin", b.opt.LoadCPUs, nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
		if err != nil {
			return nil, 0, "", err
		}
		c.drain()
		if err := waitHTTP(c, fmt.Sprintf("http://127.0.0.1:%d/", port), 15*time.Second); err != nil {
			c.stop()
			return nil, 0, "", err
		}
		return c, port, toolVersion("nginx", "-v"), nil
	}
	c, err := startChild("go origin", b.opt.LoadCPUs, b.opt.Self, "bench", "origin")
	if err != nil {
		return nil, 0, "", err
	}
	line, err := c.readLine(15 * time.Second)
	if err != nil {
		c.stop()
		return nil, 0, "", err
	}
	c.drain()
	addr := fieldValue(line, "origin")
	_, portStr, _ := net.SplitHostPort(addr)
	var port int
	if _, err := fmt.Sscan(portStr, &port); err != nil {
		c.stop()
		return nil, 0, "", fmt.Errorf("bench: origin said %q", line)
	}
	return c, port, "Go net/http (nginx not installed)", nil
}

// fieldValue finds key=value in a ready line.
func fieldValue(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

func toolVersion(name string, args ...string) string {
	out, _ := exec.Command(name, args...).CombinedOutput() // #nosec G204 -- fixed tool names from this package
	s := strings.TrimSpace(string(out))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	// Keep "name version", dropping banners and copyright notices.
	s = strings.TrimPrefix(s, "nginx version: ")
	if f := strings.Fields(s); len(f) >= 3 && f[1] == "version" {
		s = f[0] + " " + f[2] // "HAProxy version 2.6.12 ..." -> "HAProxy 2.6.12"
	} else if len(f) >= 2 {
		s = f[0] + " " + f[1]
	}
	return strings.ReplaceAll(s, "/", " ")
}

// waitHTTP polls url until it answers 200 with the origin's 1 KiB body, the
// process dies, or timeout passes. TLS is not verified: the certificates
// are the throwaway ones made for this run.
func waitHTTP(c *child, url string, timeout time.Duration) error {
	tr := &http.Transport{
		// #nosec G402 -- readiness probe of a local server on this run's throwaway self-signed certificate
		TLSClientConfig:   &stdtls.Config{InsecureSkipVerify: true},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if !c.alive() {
			return fmt.Errorf("bench: %s exited (%v): %s", c.name, c.exitErr(), c.errb.String())
		}
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK && len(body) == replySize {
				return nil
			}
			last = fmt.Errorf("status %d, %d bytes", resp.StatusCode, len(body))
		} else {
			last = err
		}
		time.Sleep(150 * time.Millisecond)
	}
	return fmt.Errorf("bench: %s not ready at %s after %s: %v; %s", c.name, url, timeout, last, c.errb.String())
}

// proxyTarget is a proxy under test for the proxied rows.
type proxyTarget struct {
	subject string
	start   func(port int) (*child, error)
}

// gantryTarget runs `gantry serve` of this binary with the backend on its
// listener.
func (b *bencher) gantryTarget(backend string) proxyTarget {
	return proxyTarget{subject: backend, start: func(port int) (*child, error) {
		cfg := filepath.Join(b.work, "gantry-"+backend+".yaml")
		if err := os.WriteFile(cfg, []byte(gantryConf(backend, port, b.originPort, b.ecdsa)), 0o600); err != nil {
			return nil, fmt.Errorf("bench: gantry config: %w", err)
		}
		return startChild("gantry serve ("+backend+")", b.opt.ServerCPUs, b.opt.Self, "serve", "-c", cfg)
	}}
}

func (b *bencher) nginxTarget() proxyTarget {
	return proxyTarget{subject: "nginx", start: func(port int) (*child, error) {
		nginx, err := exec.LookPath("nginx")
		if err != nil {
			return nil, errors.New("bench: nginx is not installed (apt-get install nginx-light)")
		}
		dir := filepath.Join(b.work, "nginx-proxy")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("bench: nginx dir: %w", err)
		}
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(nginxProxyConf(dir, port, b.originPort, b.ecdsa, max(b.workers, 1))), 0o600); err != nil {
			return nil, fmt.Errorf("bench: nginx config: %w", err)
		}
		return startChild("nginx proxy", b.opt.ServerCPUs, nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	}}
}

func (b *bencher) haproxyTarget() proxyTarget {
	return proxyTarget{subject: "haproxy", start: func(port int) (*child, error) {
		hp, err := exec.LookPath("haproxy")
		if err != nil {
			return nil, errors.New("bench: haproxy is not installed (apt-get install haproxy)")
		}
		conf := filepath.Join(b.work, "haproxy.cfg")
		if err := os.WriteFile(conf, []byte(haproxyConf(port, b.originPort, b.ecdsa, max(b.workers, 1))), 0o600); err != nil {
			return nil, fmt.Errorf("bench: haproxy config: %w", err)
		}
		return startChild("haproxy", b.opt.ServerCPUs, hp, "-db", "-f", conf)
	}}
}

// gantryConf is the config `gantry serve` gets: one listener on the backend
// under test with the ECDSA certificate, h2 and HTTP/1.1, everything to the
// origin over pooled keep-alive connections, no access log.
func gantryConf(backend string, port, originPort int, cert certFiles) string {
	return fmt.Sprintf(`# generated by gantry bench
listeners:
  - name: bench
    address: "127.0.0.1:%d"
    tls:
      backend: %s
      certificates:
        - cert: %q
          key: %q
      alpn: [h2, http/1.1]
routes:
  - path_prefix: /
    upstream: origin
upstreams:
  origin:
    addresses: ["127.0.0.1:%d"]
    max_idle_conns: 512
logging:
  level: warn
  access_log: false
`, port, backend, cert.Cert, cert.Key, originPort)
}

// The nginx and HAProxy settings follow the anchors' fairness rules: no
// access log, no temp files, origin keep-alive with a large pool, TLS 1.2
// and 1.3, one worker or thread on the proxy CPU.

func nginxCommon(dir string) string {
	return fmt.Sprintf(`daemon off;
pid %[1]s/nginx.pid;
worker_rlimit_nofile 16384;
events { worker_connections 16384; }
`, dir)
}

func nginxTemps(dir string) string {
	return fmt.Sprintf(`  access_log off;
  client_body_temp_path %[1]s/tmp_body;
  proxy_temp_path %[1]s/tmp_proxy;
  fastcgi_temp_path %[1]s/tmp_fcgi;
  uwsgi_temp_path %[1]s/tmp_uwsgi;
  scgi_temp_path %[1]s/tmp_scgi;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  tcp_nodelay on;
`, dir)
}

func nginxOriginConf(dir string, port int) string {
	return "worker_processes 1;\n" + nginxCommon(dir) + "http {\n" + nginxTemps(dir) + fmt.Sprintf(`  default_type application/octet-stream;
  sendfile on;
  etag off;
  open_file_cache max=16 inactive=600s;
  server {
    listen 127.0.0.1:%d backlog=4096;
    root %s/www;
    location = / { try_files /index.html =404; }
  }
}
`, port, dir)
}

// nginxProxyConf runs workers worker processes: one per CPU the proxy has.
func nginxProxyConf(dir string, port, originPort int, cert certFiles, workers int) string {
	return fmt.Sprintf("worker_processes %d;\n", workers) + nginxCommon(dir) + "http {\n" + nginxTemps(dir) + fmt.Sprintf(`  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:SSL:20m;
  ssl_session_tickets on;
  upstream origin {
    server 127.0.0.1:%d;
    keepalive 512;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
  }
  server {
    listen 127.0.0.1:%d ssl http2 backlog=4096;
    ssl_certificate %s;
    ssl_certificate_key %s;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_max_temp_file_size 0;
      proxy_buffer_size 32k;
      proxy_buffers 8 32k;
    }
  }
}
`, originPort, port, cert.Cert, cert.Key)
}

// haproxyConf runs threads threads: one per CPU the proxy has.
func haproxyConf(port, originPort int, cert certFiles, threads int) string {
	return fmt.Sprintf(`global
  nbthread %d
  maxconn 8000
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 300s
  http-reuse always
frontend fe
  bind 127.0.0.1:%d ssl crt %s alpn h2,http/1.1
  default_backend be
backend be
  server origin 127.0.0.1:%d
`, threads, port, cert.PEM, originPort)
}

// httpSecs is d in whole seconds, at least 1: wrk and h2load take seconds.
func httpSecs(d time.Duration) int {
	return max(int(d.Round(time.Second)/time.Second), 1)
}

// measureHTTP runs wrk (HTTP/1.1 keep-alive) and h2load (HTTP/2) against
// port on the load CPUs.
func (b *bencher) measureHTTP(ctx context.Context, proto string, port, proxyPid int) (HTTPResult, cpuUse, error) {
	url := fmt.Sprintf("https://127.0.0.1:%d/", port)
	secs := httpSecs(b.opt.HTTPDur)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(secs)*time.Second+30*time.Second)
	defer cancel()
	b.waitQuiet()
	pids := []int{proxyPid}
	if b.originPid != 0 {
		pids = append(pids, b.originPid)
	}
	if proto == "h1" {
		m := startMeter(pids...)
		out, used, err := runTool(ctx, b.opt.LoadCPUs, "wrk", "-t1", "-c50", fmt.Sprintf("-d%ds", secs), "--latency", url)
		use := m.stop(b.serverCPUs, b.loadCPUs, used)
		if err != nil {
			return HTTPResult{}, use, err
		}
		res, err := parseWrk(out)
		return res, use, err
	}
	logFile := filepath.Join(b.work, "h2load.log")
	_ = os.Remove(logFile)
	m := startMeter(pids...)
	out, used, err := runTool(ctx, b.opt.LoadCPUs, "h2load", "-t1", "-c10", "-m10", "-D", fmt.Sprint(secs),
		"--warm-up-time", "1", "--log-file", logFile, url)
	use := m.stop(b.serverCPUs, b.loadCPUs, used)
	if err != nil {
		return HTTPResult{}, use, err
	}
	res, err := parseH2load(out, logFile)
	return res, use, err
}
