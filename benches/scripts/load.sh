#!/usr/bin/env bash
# Load comparison: Prosody's own BOSH, ejabberd's own BOSH, and bosh-cm in
# front of the same Prosody and the same ejabberd (their c2s ports), at
# SIZES sessions (message exchange between pairs), then an idle run of
# IDLE_SESSIONS long-polling sessions held for two `wait` periods.
# Writes benches/results/load-<date>.md and .jsonl. See benches/LOAD.md.
#
# Env knobs: SIZES ("10 100 1000"), IDLE_SESSIONS (9000; 10 000 needs 20 012 fds in bosh-cm), IDLE_WAIT (20 s),
# USERS (1000), WINDOW (4), TARGETS ("prosody cm-prosody ejabberd cm-ejabberd"),
# SKIP_IDLE=1, CARGO_TARGET_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SIZES=${SIZES:-"10 100 1000"}
IDLE_SESSIONS=${IDLE_SESSIONS:-9000}
IDLE_WAIT=${IDLE_WAIT:-20}
USERS=${USERS:-1000}
WINDOW=${WINDOW:-4}
TARGETS=${TARGETS:-"prosody cm-prosody ejabberd cm-ejabberd"}
DATE=$(date -u +%Y-%m-%dT%H%M%SZ)
OUT_DIR=$ROOT/benches/results
MD=$OUT_DIR/load-$DATE.md
JSONL=$OUT_DIR/load-$DATE.jsonl
mkdir -p "$OUT_DIR"

msgs_for() { # messages per side of a pair, by session count
  case $1 in 10) echo 200 ;; 100) echo 50 ;; *) echo 10 ;; esac
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
start_cm() { # name upstream -> sets CM_URL_<name>, CM_PID_<name>
  local name=$1 upstream=$2 port
  port=$(free_port)
  RUST_LOG=warn "$BIN/bosh-cm" --listen "127.0.0.1:$port" --upstream "$upstream" \
    --max-sessions 100000 --max-wait 120 --inactivity 120 >"$WORK/cm-$name.log" 2>&1 &
  local pid=$!
  CM_PIDS+=("$pid")
  for _ in $(seq 1 50); do
    (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  printf -v "CM_URL_$name" '%s' "http://127.0.0.1:$port/http-bind"
  printf -v "CM_PID_$name" '%s' "$pid"
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

for n in $SIZES; do
  for t in $TARGETS; do
    # shellcheck disable=SC2046
    "$BIN/bosh-load" $(target_args "$t") "${COMMON[@]}" --label "$t" --sessions "$n" \
      --messages "$(msgs_for "$n")" --window "$WINDOW" --timeout-secs 90 >>"$JSONL" ||
      echo "load.sh: run $t/$n failed" >&2
    sleep 2
  done
done

if [[ ${SKIP_IDLE:-0} != 1 ]]; then
  for t in $TARGETS; do
    # shellcheck disable=SC2046
    "$BIN/bosh-load" $(target_args "$t") "${COMMON[@]}" --label "$t" --sessions "$IDLE_SESSIONS" \
      --wait "$IDLE_WAIT" --idle-secs $((2 * IDLE_WAIT)) --timeout-secs 400 --threads 2 >>"$JSONL" ||
      echo "load.sh: idle run $t failed" >&2
    sleep 3
  done
fi

python3 - "$JSONL" "$MD" "$DATE" <<'EOF'
import json, sys, platform, subprocess, os
jsonl, md, date = sys.argv[1:4]
rows = [json.loads(l) for l in open(jsonl) if l.strip()]
cpu = next((l.split(":",1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
f = lambda v, d=1: "-" if v is None else f"{v:.{d}f}"
out = [f"# BOSH load run {date}", "",
       f"Machine: {os.cpu_count()} CPUs ({cpu}), {platform.platform()}; generator, servers and bosh-cm share the machine.", "",
       "## Message exchange (pairs, closed loop)", "",
       "| target | sessions | logged in | msgs recv/sent | msg/s | p50 ms | p99 ms | errors | login retries | CM RSS KiB (peak) | server RSS KiB (peak) |",
       "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for r in rows:
    if r["mode"] != "messages": continue
    rss = r["rss"]
    cm = rss[0] if r["label"].startswith("cm-") else None
    srv = rss[1] if cm else rss[0]
    kinds = ", ".join(f"{k} {v}" for k, v in r["error_kinds"].items())
    out.append(f"| {r['label']} | {r['sessions']} | {r['logged_in']} | {r['received']}/{r['sent']} | {f(r['msgs_per_sec'],0)} | {f(r['p50_ms'],2)} | {f(r['p99_ms'],2)} | {r['errors']}{' ('+kinds+')' if kinds else ''} | {r['login_retries']} | "
               f"{(str(cm['after_kib'])+' ('+str(cm['peak_kib'])+')') if cm else '-'} | {srv['after_kib']} ({srv['peak_kib']}) |")
out += ["", "## Ratios: bosh-cm vs the server's own BOSH (goal: throughput >= 1.5x, lower p99)", "",
        "| server | sessions | throughput ratio | p99 own / p99 via bosh-cm |", "|---|---:|---:|---:|"]
idx = {(r["label"], r["sessions"]): r for r in rows if r["mode"] == "messages"}
for srv in ("prosody", "ejabberd"):
    for (lab, n), r in sorted(idx.items(), key=lambda x: x[0][1]):
        if lab != srv or ("cm-"+srv, n) not in idx: continue
        c = idx[("cm-"+srv, n)]
        tr = c["msgs_per_sec"]/r["msgs_per_sec"] if r["msgs_per_sec"] else None
        pr = (r["p99_ms"]/c["p99_ms"]) if r["p99_ms"] and c["p99_ms"] else None
        out.append(f"| {srv} | {n} | {f(tr,2)}x | {f(pr,2)}x |")
out += ["", "## Idle sessions (long-polling, held two `wait` periods)", "",
        "| target | sessions | logged in | errors | held s | process | RSS before -> after KiB | KiB per session |",
        "|---|---:|---:|---:|---:|---|---:|---:|"]
for r in rows:
    if r["mode"] != "idle": continue
    for i, p in enumerate(r["rss"]):
        proc = ("bosh-cm" if i == 0 else "server") if r["label"].startswith("cm-") else "server (own BOSH)"
        out.append(f"| {r['label']} | {r['sessions']} | {r['logged_in']} | {r['errors']} | {f(r['phase_secs'],0)} | {proc} | {p['before_kib']} -> {p['after_kib']} | {f(p['per_session_kib'],2)} |")
open(md, "w").write("\n".join(out) + "\n")
print("\n".join(out))
EOF
echo "load.sh: wrote $MD and $JSONL" >&2
