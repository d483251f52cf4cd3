#!/usr/bin/env bash
# The whole flow on the embedded default: mock SMEV, the gateway and the bundled school data.
#   scripts/demo.sh         runs the portal's four steps and exits 0 when all four happened (make demo)
#   scripts/demo.sh serve   keeps mock SMEV and the gateway running and prints their addresses (make serve)
#   DEMO_PID_FILE=FILE      also appends each started process's pid to FILE (tests check none survives)
#   DEMO_BIN_DIR=DIR        where mock-smev and edugate are (target/debug by default)
# Both processes are children of this script, which stops them when it exits, however it exits (end of the demo,
# a failure, Ctrl-C or SIGTERM).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-demo}
bin=${DEMO_BIN_DIR:-target/debug}
work=$(mktemp -d)
pids=()
cleanup() {
  trap - EXIT INT TERM
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null || true
  # Give them the grace period of a clean stop, then make sure.
  for _ in $(seq 1 100); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  [[ $mode == serve ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts a program that prints "... listening on http://ADDR" and sets `addr` to ADDR. It runs in this shell, not
# in a `$(...)` subshell, so that the pid it records is one this shell's cleanup can stop.
start() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  [[ -z ${DEMO_PID_FILE:-} ]] || echo "$!" >>"$DEMO_PID_FILE"
  for _ in $(seq 1 300); do
    if addr=$(grep -o 'listening on http://[^ ]*' "$work/$name.out" 2>/dev/null | head -1); then
      [[ -n $addr ]] && { addr=${addr#listening on http://}; return; }
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || { echo "$name did not start:" >&2; cat "$work/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$name did not start in time" >&2; exit 1
}

cp data/school-demo.json "$work/school.json"
start mock-smev "$bin/mock-smev" --listen 127.0.0.1:0
mock=$addr
# The demo runs on the public dev material in certs-dev/, which only the development profile allows.
EDUGATE__PROFILE=development \
  EDUGATE__SMEV__ENDPOINT="http://$mock/smev/1.3" \
  EDUGATE__SMEV__POLL_INTERVAL_MS=200 \
  EDUGATE__STORE__PATH="$work/state" \
  EDUGATE__SCHOOL__DATA="$work/school.json" \
  EDUGATE__SCHOOL__STATUS_POLL_SECS=1 \
  EDUGATE__SCHOOL__RELOAD_SECS=1 \
  EDUGATE__HTTP__LISTEN=127.0.0.1:0 \
  start gateway "$bin/edugate" run
gateway=$addr
echo "mock SMEV:   http://$mock  (SOAP at /smev/1.3, control API at /control/, see docs/integrators.md)"
echo "gateway:     http://$gateway  (/healthz, /readyz)"
echo "school data: $work/school.json; logs: $work/*.log"
if [[ $mode == serve ]]; then
  echo "running; Ctrl-C (or SIGTERM to pid $$) stops both"
  wait
else
  "$bin/edugate" demo --mock "http://$mock" --data "$work/school.json"
fi
