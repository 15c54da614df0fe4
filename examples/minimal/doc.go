// Command minimal is the smallest useful embedding of Gantry's proxy: one
// TLS listener (HTTP/2 and HTTP/1.1, gostd backend), one plain-HTTP origin,
// no hooks and no access log. It takes the flags of the anchors benchmark
// harness, so it is also how the proxy core is measured on its own:
//
//	go build -o /tmp/gantry-minimal ./examples/minimal
//	/tmp/gantry-minimal -listen 127.0.0.1:8443 -upstream 127.0.0.1:8080 -cert c.pem -key k.pem
//
// It must never be mistaken for the gantry binary: no config file, no
// privilege drop, no graceful upgrade.
package main
