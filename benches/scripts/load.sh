#!/usr/bin/env bash
# Load comparison: Prosody's own BOSH, ejabberd's own BOSH, and bosh-cm in
# front of the same Prosody and the same ejabberd (their c2s ports), at
# SIZES sessions (message exchange between pairs), then an idle run of
# IDLE_SESSIONS long-polling sessions held for two `wait` periods.
# Writes benches/results/load-<date>.md and .jsonl. See benches/LOAD.md.
#
# Env knobs: REPS (3: every message run is repeated, interleaved, and the
# tables give medians), SIZES ("10 100 1000"), IDLE_SESSIONS (10000),
# IDLE_WAIT (20 s), IDLE_H2_CONNECTIONS (16: bosh-cm's idle sessions are
# held over that many shared h2c connections, one descriptor per session;
# 0 holds them over HTTP/1.1, two descriptors each), IDLE_CM_HTTP1_SESSIONS
# (9900: bosh-cm is also held over HTTP/1.1 at that many, which fits a
# 20 000-descriptor limit with room for the ramp; 0 skips it),
# USERS (1000), WINDOW (4), TARGETS ("prosody cm-prosody ejabberd cm-ejabberd"),
# SKIP_IDLE=1, CARGO_TARGET_DIR, CM_THREADS (unset: one tokio worker per
# core; a number: bosh-cm's TOKIO_WORKER_THREADS), RATE (unset: closed loop with WINDOW; a
# number: open loop, each sender sends RATE msg/s on a fixed schedule and
# latency counts from the hand-over to the BOSH client, the generator's own
# timer lag reported apart, to compare latency at equal load).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SIZES=${SIZES-"10 100 1000"} # SIZES="" runs only the idle part
IDLE_SESSIONS=${IDLE_SESSIONS:-10000}
IDLE_WAIT=${IDLE_WAIT:-20}
IDLE_H2_CONNECTIONS=${IDLE_H2_CONNECTIONS:-16}
IDLE_CM_HTTP1_SESSIONS=${IDLE_CM_HTTP1_SESSIONS:-9900}
USERS=${USERS:-1000}
REPS=${REPS:-3}
WINDOW=${WINDOW:-4}
TARGETS=${TARGETS:-"prosody cm-prosody ejabberd cm-ejabberd"}
DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT_DIR=$ROOT/benches/results
MD=$OUT_DIR/load-$DATE.md
JSONL=$OUT_DIR/load-$DATE.jsonl
mkdir -p "$OUT_DIR"

msgs_for() { # messages per side of a pair, by session count: phases of
  # one to several seconds (a sub-second phase is mostly noise here)
  case $1 in 10) echo 1000 ;; 100) echo 200 ;; *) echo 40 ;; esac
}

# File descriptors: 2 HTTP connections per session plus the upstream side.
hard=$(ulimit -Hn)
if [[ $hard == unlimited ]]; then ulimit -n 65535; else ulimit -n "$hard"; fi
echo "load.sh: ulimit -n $(ulimit -n)" >&2

cargo build --release -p runtime-tokio --bin bosh-cm -p bosh-benches --bin bosh-load --bin load-peers >&2
BIN=$TARGET_DIR/release

WORK=$(mktemp -d /tmp/bosh-load.XXXXXX)
PEERS_PID=""
CM_PIDS=()
cleanup() {
  set +e
  for p in "${CM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${CM_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for log in "$WORK"/cm-*.log; do # bosh-cm's warnings (e.g. out of descriptors)
    [[ -s $log ]] || continue
    # (the start-up warning that max_sessions exceeds the descriptor limit
    # is expected here, and left out)
    local warns
    warns=$(grep ' WARN ' "$log" | grep -v 'max_sessions does not fit')
    echo "load.sh: $(basename "$log"): $(grep -c . <<<"$warns") warnings" >&2
    [[ -n $warns ]] && cut -d' ' -f3- <<<"$warns" | cut -c1-90 | sort | uniq -c | sort -rn | head -5 >&2
  done
  exec 3>&- 2>/dev/null # EOF on load-peers' stdin: it stops both servers
  if [[ -n $PEERS_PID ]]; then
    for _ in $(seq 1 30); do kill -0 "$PEERS_PID" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$PEERS_PID" 2>/dev/null
    wait "$PEERS_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Servers (Prosody + ejabberd) with USERS accounts load0..; they stay up
# while fd 3 is open.
mkfifo "$WORK/peers.in"
"$BIN/load-peers" --users "$USERS" --max-secs 3600 <"$WORK/peers.in" >"$WORK/peers.out" 2>"$WORK/peers.err" &
PEERS_PID=$!
exec 3>"$WORK/peers.in"
for _ in $(seq 1 120); do
  grep -q '^READY$' "$WORK/peers.out" && break
  kill -0 "$PEERS_PID" 2>/dev/null || { cat "$WORK/peers.err" >&2; exit 1; }
  sleep 0.5
done
grep -q '^READY$' "$WORK/peers.out" || { echo "load.sh: servers not ready" >&2; exit 1; }
eval "$(grep '^[A-Z0-9_]*=' "$WORK/peers.out")"
echo "load.sh: prosody pid $PROSODY_PID c2s $PROSODY_C2S; ejabberd pid $EJABBERD_PID c2s $EJABBERD_C2S" >&2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_cm() { # name upstream [flags...] -> sets CM_URL_<name>, CM_PID_<name>, CM_UPSTREAM_<name>
  local name=$1 upstream=$2 port
  shift 2
  port=$(free_port)
  RUST_LOG=warn env ${CM_THREADS:+TOKIO_WORKER_THREADS=$CM_THREADS} "$BIN/bosh-cm" --listen "127.0.0.1:$port" --upstream "$upstream" \
    --max-sessions 100000 --max-wait 120 --inactivity 120 "$@" >>"$WORK/cm-$name.log" 2>&1 &
  local pid=$!
  CM_PIDS+=("$pid")
  for _ in $(seq 1 50); do
    (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  printf -v "CM_URL_$name" '%s' "http://127.0.0.1:$port/http-bind"
  printf -v "CM_PID_$name" '%s' "$pid"
  printf -v "CM_UPSTREAM_$name" '%s' "$upstream"
}
start_cm prosody "$PROSODY_C2S"
start_cm ejabberd "$EJABBERD_C2S"

target_args() { # target -> "--url U --pid P [--pid P2]"
  case $1 in
    prosody) echo "--url $PROSODY_BOSH --pid $PROSODY_PID" ;;
    ejabberd) echo "--url $EJABBERD_BOSH --pid $EJABBERD_PID" ;;
    cm-prosody) echo "--url $CM_URL_prosody --pid $CM_PID_prosody --pid $PROSODY_PID" ;;
    cm-ejabberd) echo "--url $CM_URL_ejabberd --pid $CM_PID_ejabberd --pid $EJABBERD_PID" ;;
  esac
}

COMMON=(--users "$USERS" --password loadpw --domain localhost --users-prefix load
  --login-timeout-secs 5 --login-attempts 5 --login-concurrency 64 --json)

for rep in $(seq 1 "$REPS"); do
  for n in $SIZES; do
    for t in $TARGETS; do
      echo "load.sh: rep $rep/$REPS, $t, $n sessions" >&2
      # shellcheck disable=SC2046
      "$BIN/bosh-load" $(target_args "$t") "${COMMON[@]}" --label "$t" --sessions "$n" \
        --messages "$(msgs_for "$n")" --window "$WINDOW" ${RATE:+--rate "$RATE"} --timeout-secs 90 >>"$JSONL" ||
        echo "load.sh: run $t/$n failed" >&2
      sleep 2
    done
  done
done

idle_run() { # target sessions [extra bosh-load args...]; one HTTP/1.1
  # connection per session (all a long poll needs; it does not apply to h2c)
  local t=$1 n=$2
  shift 2
  echo "load.sh: idle, $t, $n sessions $*" >&2
  # shellcheck disable=SC2046
  "$BIN/bosh-load" $(target_args "$t") "${COMMON[@]}" --label "$t" --sessions "$n" \
    --wait "$IDLE_WAIT" --idle-secs $((2 * IDLE_WAIT)) --timeout-secs 400 --threads 2 --idle-connections 1 "$@" >>"$JSONL" ||
    echo "load.sh: idle run $t failed" >&2
  sleep 3
}
fresh_cm() { # name: a new bosh-cm process, accepting h2c too (memory per
  # session is then measured from a clean process, not one that reuses what
  # earlier runs freed)
  local pid_var="CM_PID_$1" upstream_var="CM_UPSTREAM_$1"
  kill -TERM "${!pid_var}" 2>/dev/null || true
  wait "${!pid_var}" 2>/dev/null || true
  start_cm "$1" "${!upstream_var}" --http2 true
}

if [[ ${SKIP_IDLE:-0} != 1 ]]; then
  for t in $TARGETS; do
    case $t in
      cm-*)
        fresh_cm "${t#cm-}"
        if [[ $IDLE_H2_CONNECTIONS == 0 ]]; then
          idle_run "$t" "$IDLE_SESSIONS"
        else
          idle_run "$t" "$IDLE_SESSIONS" --http2-connections "$IDLE_H2_CONNECTIONS"
          if [[ $IDLE_CM_HTTP1_SESSIONS != 0 ]]; then # HTTP/1.1, for comparison
            fresh_cm "${t#cm-}"
            idle_run "$t" "$IDLE_CM_HTTP1_SESSIONS"
          fi
        fi
        ;;
      *) idle_run "$t" "$IDLE_SESSIONS" ;;
    esac
  done
fi

COMMIT=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) \
  WINDOW=$WINDOW REPS=$REPS SIZES=$SIZES TARGETS=$TARGETS IDLE_SESSIONS=$IDLE_SESSIONS \
  IDLE_H2_CONNECTIONS=$IDLE_H2_CONNECTIONS IDLE_CM_HTTP1_SESSIONS=$IDLE_CM_HTTP1_SESSIONS \
  python3 - "$JSONL" "$MD" "$DATE" <<'EOF'
import json, sys, platform, os, statistics
jsonl, md, date = sys.argv[1:4]
rows = [json.loads(l) for l in open(jsonl) if l.strip()]
cpu = next((l.split(":",1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
f = lambda v, d=1: "-" if v is None else f"{v:.{d}f}"
med = lambda xs: statistics.median(xs) if xs else None
def loop_kind(rows):
    rates = {r.get("rate") for r in rows if r["mode"] == "messages"}
    if rates == {None} or not rates:
        return "closed loop"
    return "open loop at " + ", ".join(str(x) for x in sorted(x for x in rates if x is not None)) + " msg/s per sender"
runs = {}
for r in rows:
    if r["mode"] == "messages":
        runs.setdefault((r["label"], r["sessions"]), []).append(r)
reps = max((len(v) for v in runs.values()), default=0)
out = [f"# BOSH load run {date}", "",
       f"Machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}; generator, servers and bosh-cm share the machine.", "",
       "Settings: " + ", ".join(f"{k}={os.environ.get(k) or '-'}" for k in ("COMMIT", "CM_THREADS", "WINDOW", "RATE", "REPS", "SIZES", "TARGETS", "IDLE_SESSIONS", "IDLE_H2_CONNECTIONS", "IDLE_CM_HTTP1_SESSIONS")), "",
       f"## Message exchange (pairs, {loop_kind(rows)}; median of {reps} interleaved runs)", "",
       "| target | sessions | logged in (min) | msgs recv/sent (all runs) | msg/s median (each run) | p50 ms median | p99 ms median | send lag p99 ms median (open loop) | errors (all runs) | login retries | CM RSS KiB (last run) |",
       "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
order = ["prosody", "cm-prosody", "ejabberd", "cm-ejabberd"]
keys = sorted(runs, key=lambda k: (k[1], order.index(k[0]) if k[0] in order else 9))
summary = {}
for k in keys:
    rs = runs[k]
    # Every run counts, a failed one (0 msg/s) included: dropping it would
    # turn the median of 3 into the mean of the other two.
    tp = med([r["msgs_per_sec"] for r in rs])
    p50 = med([r["p50_ms"] for r in rs if r["p50_ms"] is not None])
    p99 = med([r["p99_ms"] for r in rs if r["p99_ms"] is not None])
    lag = med([r["send_lag_p99_ms"] for r in rs if r.get("send_lag_p99_ms") is not None])
    summary[k] = (tp, p99)
    kinds = {}
    for r in rs:
        for kk, v in r["error_kinds"].items():
            kinds[kk] = kinds.get(kk, 0) + v
    errs = sum(r["errors"] for r in rs)
    kinds_s = ", ".join(f"{kk} {v}" for kk, v in sorted(kinds.items()))
    each = ", ".join(f(r["msgs_per_sec"], 0) for r in rs)
    cm = rs[-1]["rss"][0]["after_kib"] if k[0].startswith("cm-") else "-"
    out.append(f"| {k[0]} | {k[1]} | {min(r['logged_in'] for r in rs)} | {sum(r['received'] for r in rs)}/{sum(r['sent'] for r in rs)} | "
               f"{f(tp,0)} ({each}) | {f(p50,2)} | {f(p99,2)} | {f(lag,2)} | {errs}{' ('+kinds_s+')' if kinds_s else ''} | {sum(r['login_retries'] for r in rs)} | {cm} |")
ratio_note = ("goal: throughput >= 1.5x, lower p99" if loop_kind(rows) == "closed loop"
              else "open loop: the throughput is the offered load of the sessions logged in, not a capacity; compare the p99")
out += ["", f"## Ratios: bosh-cm vs the server's own BOSH (medians; {ratio_note})", "",
        "| server | sessions | throughput ratio | p99 own / p99 via bosh-cm |", "|---|---:|---:|---:|"]
for srv in ("prosody", "ejabberd"):
    for (lab, n) in keys:
        if lab != srv or ("cm-"+srv, n) not in summary: continue
        (tp_o, p99_o), (tp_c, p99_c) = summary[(lab, n)], summary[("cm-"+srv, n)]
        tr = tp_c/tp_o if tp_o and tp_c else None
        pr = p99_o/p99_c if p99_o and p99_c else None
        # In an open loop the msg/s is the offered load of the sessions
        # logged in: its ratio compares logins, not speed.
        tr_s = "n/a (open loop)" if loop_kind(rows) != "closed loop" else f"{f(tr,2)}x"
        out.append(f"| {srv} | {n} | {tr_s} | {f(pr,2)}x |")
out += ["", "## Idle sessions (long-polling, held two `wait` periods)", "",
        "| target | HTTP | sessions | logged in | errors | held s | process | RSS before -> after KiB | KiB per session |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|"]
for r in rows:
    if r["mode"] != "idle": continue
    for i, p in enumerate(r["rss"]):
        proc = ("bosh-cm" if i == 0 else "server") if r["label"].startswith("cm-") else "server (own BOSH)"
        h2 = r.get("http2_connections")
        http = f"h2c, {h2} shared connections" if h2 else "HTTP/1.1, 1 connection per session"
        out.append(f"| {r['label']} | {http} | {r['sessions']} | {r['logged_in']} | {r['errors']} | {f(r['phase_secs'],0)} | {proc} | {p['before_kib']} -> {p['after_kib']} | {f(p['per_session_kib'],2)} |")
open(md, "w").write("\n".join(out) + "\n")
print("\n".join(out))
EOF
echo "load.sh: wrote $MD and $JSONL" >&2
