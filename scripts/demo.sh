#!/usr/bin/env bash
# The whole flow on the embedded default: mock SMEV, the gateway and the bundled school data.
#   scripts/demo.sh         runs the portal's four steps and exits 0 when all four happened (make demo)
#   scripts/demo.sh serve   keeps mock SMEV and the gateway running and prints their addresses (make serve)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-demo}
bin=target/debug
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ $mode == serve ]] || rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Starts a program that prints "... listening on http://ADDR" and echoes ADDR.
start() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 1 300); do
    if addr=$(grep -o 'listening on http://[^ ]*' "$work/$name.out" 2>/dev/null | head -1); then
      [[ -n $addr ]] && { echo "${addr#listening on http://}"; return; }
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "$name did not start:" >&2; cat "$work/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name did not start in time" >&2; exit 1
}

cp data/school-demo.json "$work/school.json"
mock=$(start mock-smev "$bin/mock-smev" --listen 127.0.0.1:0)
# The demo runs on the public dev material in certs-dev/, which only the development profile allows.
gateway=$(EDUGATE__PROFILE=development \
  EDUGATE__SMEV__ENDPOINT="http://$mock/smev/1.3" \
  EDUGATE__SMEV__POLL_INTERVAL_MS=200 \
  EDUGATE__STORE__PATH="$work/state" \
  EDUGATE__SCHOOL__DATA="$work/school.json" \
  EDUGATE__SCHOOL__STATUS_POLL_SECS=1 \
  EDUGATE__SCHOOL__RELOAD_SECS=1 \
  EDUGATE__HTTP__LISTEN=127.0.0.1:0 \
  start gateway "$bin/edugate" run)
echo "mock SMEV:   http://$mock  (SOAP at /smev/1.3, control API at /control/, see docs/integrators.md)"
echo "gateway:     http://$gateway  (/healthz, /readyz)"
echo "school data: $work/school.json; logs: $work/*.log"
if [[ $mode == serve ]]; then
  echo "running; Ctrl-C stops both"
  wait
else
  "$bin/edugate" demo --mock "http://$mock" --data "$work/school.json"
fi
