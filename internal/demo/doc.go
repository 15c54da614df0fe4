// Package demo is the small origin server behind `gantry serve` when it runs
// without a config file: it shows that a request went through Gantry by
// echoing what it received, and serves a large body at /big for trying
// streaming and HTTP/2 flow control.
//
// It listens on 127.0.0.1 only. It must never echo a request body, nor the
// values of credential headers (Authorization, Cookie and the like): a demo
// that reflects secrets teaches the wrong habit.
package demo
