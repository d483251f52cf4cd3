#!/usr/bin/env bash
# Builds and runs the cargo-fuzz targets in fuzz/, one after the other, each for a fixed time.
#   scripts/fuzz.sh SECONDS [TARGET...]   (every target when none is named)
# Knobs (environment): FUZZ_RSS_MB (memory limit per target, default 2048), FUZZ_MAX_LEN (largest input in bytes,
# default 65536), FUZZ_JOBS (parallel fuzzing processes per target, default 1), FUZZ_SEEDS=0 (skip refreshing the
# corpus from scripts/fuzz-seeds.sh), FUZZ_LOG_DIR (where each target's libFuzzer output is kept, default
# fuzz/logs), FUZZ_BUILD=dev (an unoptimized build: about half the build time of the default optimized one, for
# short runs such as CI's smoke), FUZZ_TARGET_DIR (cargo's target directory, default fuzz/target). A crash stops the run with a non-zero exit and leaves the input in fuzz/artifacts/TARGET/.
#
# cargo-fuzz builds with sanitizer flags that only a nightly compiler accepts: the nightly toolchain is used when
# rustup has one, else the stable compiler with RUSTC_BOOTSTRAP=1 (which lets it accept them).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
rss_mb=${FUZZ_RSS_MB:-2048}
max_len=${FUZZ_MAX_LEN:-65536}
jobs=${FUZZ_JOBS:-1}
logs=${FUZZ_LOG_DIR:-fuzz/logs}

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: run scripts/install-deps.sh fuzz" >&2
  exit 1
fi

# Build options shared by `build` and `run`: sanitizers, debug assertions and overflow checks are on in both profiles.
build=()
[[ ${FUZZ_BUILD:-release} != dev ]] || build+=(--dev)
[[ -z ${FUZZ_TARGET_DIR:-} ]] || build+=(--target-dir "$(realpath -m "$FUZZ_TARGET_DIR")")

targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cd fuzz && "${fuzz[@]}" list)
fi
[[ ${FUZZ_SEEDS:-1} == 0 ]] || bash scripts/fuzz-seeds.sh >/dev/null
(cd fuzz && "${fuzz[@]}" build "${build[@]}")
mkdir -p "$logs"
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/seeds/$target"
  echo "== $target: ${seconds}s"
  parallel=()
  # libFuzzer's -jobs moves the work into child processes (logging to fuzz-N.log); one job runs in-process.
  ((jobs > 1)) && parallel=(-jobs="$jobs" -workers="$jobs")
  (cd fuzz && "${fuzz[@]}" run "${build[@]}" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb="$rss_mb" -max_len="$max_len" "${parallel[@]}" \
    -print_final_stats=1) >"$logs/$target.log" 2>&1 || {
    echo "$target FAILED; the last lines of $logs/$target.log:" >&2
    tail -n 40 "$logs/$target.log" >&2
    exit 1
  }
  # The summary: the final coverage line and the run count.
  grep -E '^#[0-9]+[[:space:]]+DONE' "$logs/$target.log" | tail -n 1
done
