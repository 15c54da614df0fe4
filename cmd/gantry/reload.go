package main

import (
	"context"
	"io"
)

func init() {
	register(command{Name: "reload", Summary: "make the serving gantry load its config file again (reload -c FILE)", Run: runReload})
}

func runReload(_ context.Context, args []string, stdout, stderr io.Writer) int {
	return runControl("reload", args, stdout, stderr, `Makes the serving gantry read its config file again and switch to it
atomically: routes, upstreams, limits, timeouts, filters, listeners added
or removed, certificates and keys re-read. Connections already open finish
their requests on the old config (HTTP/1.1 ones close when idle, HTTP/2
ones get GOAWAY); new connections get the new config. No request fails.

An invalid file changes nothing: the server keeps the old config, logs every
error as FILE:LINE: KEY: problem and counts it in gantry_reloads_total;
this command prints the same errors and exits 1. Process settings
(server.user, server.group, server.pid_file, server.control_socket,
metrics.address, logging.access_log_file) take effect at the next upgrade.
SIGHUP to the serving process does the same, with the outcome in its log.

It talks to server.control_socket, read from the config file given with -c
(or given with --socket). Prints "ok" and exits 0 once the new config serves.`)
}
