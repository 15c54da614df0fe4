#!/usr/bin/env bash
# Runs h2spec (HTTP/2 conformance, over TLS) against `gantry serve` with the
# embedded default config, once per binary given, with the listener on that
# binary's C backend (or gostd for the gostd-only build). Fails when h2spec reports
# a failure that is not listed in h2spec-known-failures.txt, when it does not
# finish, or when gantry does not exit 0 on SIGTERM afterwards.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
known=$( { grep -v '^#' "$here/h2spec-known-failures.txt" || true; } | sed '/^[[:space:]]*$/d' | sort -u)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

for bin in "$@"; do
  name=$(basename "$bin")
  log="$work/$name.serve.log"
  report="$work/$name.h2spec.txt"
  # The listener uses the binary's own C backend where it has one: the
  # last name of "backends: gostd, openssl" in the version line.
  backend=$("$bin" version | sed -E 's/.*backends: ([^)]*)\).*/\1/' | tr -d ' ' | tr ',' '\n' | tail -1)
  : >"$log"
  "$bin" serve --listen 127.0.0.1:0 --backend "$backend" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    grep -q 'curl --cacert' "$log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  port=$(grep -o 'https://127\.0\.0\.1:[0-9]*' "$log" | head -1 | sed 's/.*://')
  if [ -z "$port" ]; then
    echo "h2spec: $name did not start:"; cat "$log"
    kill "$pid" 2>/dev/null || true
    status=1; continue
  fi

  echo "== h2spec against $name, listener backend $backend, port $port"
  timeout 600 h2spec -t -k -h 127.0.0.1 -p "$port" -o 5 >"$report" 2>&1 || true

  kill -TERM "$pid"
  if ! wait "$pid"; then
    echo "h2spec: $name did not exit 0 on SIGTERM"; cat "$log"; status=1
  fi

  summary=$(grep -E '^[0-9]+ tests, [0-9]+ passed' "$report" || true)
  if [ -z "$summary" ]; then
    echo "h2spec: no summary from h2spec against $name:"; cat "$report"; status=1; continue
  fi
  echo "$summary"
  failed=$(sed -n '/^Failures:/,/^Finished in/p' "$report" | grep -E '^[[:space:]]+× ' |
           sed -E 's/^[[:space:]]+× [0-9]+: //' | sort -u || true)
  unexpected=$(comm -23 <(printf '%s\n' "$failed" | sed '/^$/d') <(printf '%s\n' "$known"))
  fixed=$(comm -13 <(printf '%s\n' "$failed" | sed '/^$/d') <(printf '%s\n' "$known"))
  if [ -n "$unexpected" ]; then
    echo "h2spec: unexpected failures against $name:"
    printf '  %s\n' "$unexpected"
    sed -n '/^Failures:/,/^Finished in/p' "$report"
    status=1
  fi
  if [ -n "$fixed" ]; then
    echo "h2spec: now passing against $name (remove from h2spec-known-failures.txt):"
    printf '  %s\n' "$fixed"
  fi
done

if [ "$status" = 0 ]; then echo "h2spec: ok"; fi
exit "$status"
