#!/usr/bin/env bash
# The hub against a bare net/http handler, both loaded by wrk in the same
# run, on the durable embedded store and on PostgreSQL: the table of
# BENCHMARKS.md ("wrk: the hub against a bare handler").
#
#   bash scripts/bench.sh [embedded] [postgres]      (default: both)
#
# For each store: a fresh hub (PostgreSQL: a fresh database owned by an
# ordinary role, so row-level security applies), PROXIES proxies (default
# 100,000) registered under one heartbeat token by the load tool, then wrk
# (THREADS threads, default 2; 64 connections on the embedded store, 256
# on PostgreSQL; DURATION each, default 20s, after a WARMUP of 5s) sends
# their heartbeats with
# scripts/bench/heartbeat.lua, then the same wrk command against the bare
# handler (proxyhub-loadtest --serve-baseline). Last, the load tool's
# burst with 10 % of the proxies changing IP and its audit check (every
# acknowledged change recorded exactly once) at the same connection count.
#
# KEEP=1 keeps the working directory (the hub's log) for a look afterwards.
#
# Needs wrk (Debian: apt-get install wrk) and, for postgres, a server the
# admin URL reaches (PROXYHUB_TEST_DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench.sh: wrk is not installed (Debian: apt-get install wrk)" >&2; exit 2; }
stores=("${@:-embedded postgres}")
read -r -a stores <<<"${stores[*]}"
proxies=${PROXIES:-100000}
threads=${THREADS:-2}
duration=${DURATION:-20s}
work=$(mktemp -d)
store=embedded
. scripts/bench/lib.sh
base_pid=
cleanup() {
  for p in $hub_pid $base_pid; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "bench.sh: kept $work (hub.log)" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
build_binaries
# A proxy is heartbeated every PROXIES/rate seconds here, far more often
# than cron's once a minute: the per-name limit must not be what is
# measured.
export PROXYHUB_RATE_HEARTBEAT=100000/1m PROXYHUB_RATE_HEARTBEAT_TOKEN=off
"$lt" --serve-baseline 127.0.0.1:3198 --proxies "$proxies" &
base_pid=$!

# wrk_run URL CONNS: wrk's figures as "requests/s p50_ms p99_ms non2xx
# errors", after WARMUP (default 5s) of the same load whose figures are
# dropped (connections opened, caches and heap grown).
wrk_run() {
  TOKEN=$token PROXIES=$proxies wrk -t "$threads" -c "$2" -d "${WARMUP:-5s}" -s scripts/bench/heartbeat.lua "$1" >/dev/null
  TOKEN=$token PROXIES=$proxies wrk -t "$threads" -c "$2" -d "$duration" --latency -s scripts/bench/heartbeat.lua "$1" >"$work/wrk.out"
  python3 - "$work/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(label):
    m = re.search(r"^\s*" + label + r"%\s+([\d.]+)(us|ms|s)\b", t, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
print(f"{rps:.0f} {ms('50'):.2f} {ms('99'):.2f} {int(non2xx.group(1)) if non2xx else 0} {sum(map(int, errs.groups())) if errs else 0}")
PY
}

echo "machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo); wrk $threads threads, $duration; $proxies proxies under one token"
rows=()
for store in "${stores[@]}"; do
  case $store in embedded) conns=64 ;; postgres) conns=256 ;; *) echo "store: embedded or postgres" >&2; exit 2 ;; esac
  start_hub
  rm -f "$work/tokens"
  "$lt" --hub "$hub" --mode burst --rounds 1 --proxies "$proxies" --tokens 1 --tokens-file "$work/tokens" \
    --concurrency "$conns" --no-verify >/dev/null
  token=$(grep -m1 '^phb_' "$work/tokens")
  read -r h_rps h_p50 h_p99 h_bad h_err <<<"$(wrk_run "$hub" "$conns")"
  read -r b_rps b_p50 b_p99 b_bad b_err <<<"$(wrk_run http://127.0.0.1:3198 "$conns")"
  verify=$("$lt" --hub "$hub" --mode burst --rounds 3 --change-fraction 0.1 --proxies "$proxies" --tokens 1 \
    --tokens-file "$work/tokens" --concurrency "$conns" | grep -E '^(verify|result):' | tr '\n' ' ')
  ratio=$(python3 -c "print(f'{$h_rps / $b_rps:.2f}')")
  rows+=("| $store | $conns | $h_rps | $h_p50 | $h_p99 | $((h_bad + h_err)) | $b_rps | $b_p99 | $ratio | $verify |")
done
echo
echo "| store | connections | hub req/s | hub p50 ms | hub p99 ms | hub non-2xx + socket errors | bare net/http req/s | bare p99 ms | ratio hub/bare | load tool check (10 % changing) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
printf '%s\n' "${rows[@]}"
