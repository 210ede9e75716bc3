#!/usr/bin/env bash
# Builds and runs the cargo-fuzz targets, each for a given number of seconds,
# and fails if any of them crashes (a panic is a crash: the entry points in
# bosh_core::fuzzing / cors_core::fuzzing / bosh_driver::fuzzing assert
# their invariants).
#
#   fuzz/run.sh [-j JOBS] [SECONDS] [TARGET...]
#
#   SECONDS   time per target (default 60)
#   TARGET    one or more of: parse_body body_roundtrip stream_framer
#             cors_policy server_session client_session http1_requests
#             (default: all)
#   -j JOBS   targets run at the same time (default 1); each uses one core
#
# Environment: FUZZ_SANITIZER (default `none`; `address` for ASan, about 2x
# slower), FUZZ_MAX_LEN (default 16384), FUZZ_NICE (default 10).
#
# Each target's generated corpus grows in fuzz/corpus/<target>/ (not
# committed), starting from the committed seeds in fuzz/seeds/<target>/; the
# libFuzzer log is fuzz/logs/<target>.log and crashes land in
# fuzz/artifacts/<target>/. The summary line per target gives the executions,
# the edge coverage (`cov`) and features (`ft`) reached, and the corpus size.
#
# cargo-fuzz needs a nightly compiler: `cargo +nightly` when a nightly
# toolchain is installed, else the stable one with RUSTC_BOOTSTRAP=1.
# Install cargo-fuzz once with `cargo install cargo-fuzz --locked`.
set -euo pipefail
cd "$(dirname "$0")"

ALL=(parse_body body_roundtrip stream_framer cors_policy server_session client_session http1_requests)
jobs=1
if [[ "${1:-}" == "-j" ]]; then
  jobs="$2"
  shift 2
fi
secs="${1:-60}"
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${ALL[@]}")
if ! [[ "$secs" =~ ^[0-9]+$ ]] || ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
  sed -n '2,24p' "$0" >&2
  exit 2
fi
for t in "${targets[@]}"; do
  if [[ ! -f "fuzz_targets/$t.rs" ]]; then
    echo "unknown target: $t (known: ${ALL[*]})" >&2
    exit 2
  fi
done

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
  exit 1
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo_fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  cargo_fuzz=(cargo fuzz)
fi
sanitizer="${FUZZ_SANITIZER:-none}"
max_len="${FUZZ_MAX_LEN:-16384}"
niceness="${FUZZ_NICE:-10}"
build_flags=(--sanitizer "$sanitizer" --debug-assertions)

echo "==> building ${targets[*]} (${cargo_fuzz[*]}, sanitizer $sanitizer)"
for t in "${targets[@]}"; do
  "${cargo_fuzz[@]}" build "${build_flags[@]}" "$t"
done

mkdir -p logs
run_one() {
  local t="$1"
  mkdir -p "corpus/$t" "artifacts/$t"
  nice -n "$niceness" "${cargo_fuzz[@]}" run "${build_flags[@]}" "$t" \
    "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" \
    >"logs/$t.log" 2>&1
}

summary() {
  local t="$1" rc="$2" log="logs/$1.log"
  local execs cov ft corpus
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  cov=$(grep -o ' cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  ft=$(grep -o ' ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  corpus=$(find "corpus/$t" -type f | wc -l)
  printf '%-16s %s  %ss  execs %s  cov %s  ft %s  corpus %s\n' "$t" \
    "$([[ $rc -eq 0 ]] && echo ok || echo "FAILED (exit $rc)")" "$secs" \
    "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus"
}

echo "==> running ${targets[*]} for ${secs}s each, $jobs at a time"
declare -A pids=()
declare -A rcs=()
queue=("${targets[@]}")
while [[ ${#queue[@]} -gt 0 || ${#pids[@]} -gt 0 ]]; do
  while [[ ${#queue[@]} -gt 0 && ${#pids[@]} -lt $jobs ]]; do
    t="${queue[0]}"
    queue=("${queue[@]:1}")
    run_one "$t" &
    pids[$t]=$!
  done
  for t in "${!pids[@]}"; do
    if ! kill -0 "${pids[$t]}" 2>/dev/null; then
      rc=0
      wait "${pids[$t]}" || rc=$?
      rcs[$t]=$rc
      unset "pids[$t]"
      summary "$t" "$rc"
    fi
  done
  sleep 1
done

failed=0
for t in "${targets[@]}"; do
  if [[ ${rcs[$t]} -ne 0 ]]; then
    failed=1
    echo "--- $t failed; last lines of logs/$t.log:" >&2
    tail -n 40 "logs/$t.log" >&2
    ls "artifacts/$t" >&2 || true
  fi
done
exit "$failed"
