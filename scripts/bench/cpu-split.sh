#!/usr/bin/env bash
# Where the CPU of one heartbeat goes: the hub, PostgreSQL and wrk, read
# from /proc, and the WAL PostgreSQL writes for it, over 10 s of the scripts/bench.sh load on PostgreSQL (100,000
# proxies under one token, 256 connections), and with PERF=1 a perf
# profile of the hub over the same 10 s (perf.data in the working
# directory; read it with perf report --children --sort symbol).
#
#   bash scripts/bench/cpu-split.sh                 # this tree
#   TREE=/path/to/another/checkout bash scripts/bench/cpu-split.sh
#
# Needs wrk and the PostgreSQL server the admin URL reaches (see lib.sh).
set -euo pipefail
out=$PWD
cd "${TREE:-$(dirname "$0")/../..}"
work=$(mktemp -d)
store=postgres
. scripts/bench/lib.sh
trap 'kill $hub_pid 2>/dev/null || true; rm -rf "$work"' EXIT
build_binaries
export PROXYHUB_RATE_HEARTBEAT=100000/1m PROXYHUB_RATE_HEARTBEAT_TOKEN=off
start_hub
"$lt" --hub "$hub" --mode burst --rounds 1 --proxies 100000 --tokens 1 --tokens-file "$work/tokens" \
  --concurrency 256 --no-verify >/dev/null 2>&1
token=$(grep -m1 '^phb_' "$work/tokens")
TOKEN=$token PROXIES=100000 wrk -t 2 -c 256 -d 5s -s scripts/bench/heartbeat.lua "$hub" >/dev/null

# ticks PID...: user + system clock ticks of the processes.
ticks() {
  local t=0 f
  for p in "$@"; do
    read -r -a f <"/proc/$p/stat" 2>/dev/null || continue
    t=$((t + f[13] + f[14]))
  done
  echo "$t"
}
backends() { pgrep -f "postgres: .*proxyhub_bench" | tr '\n' ' '; }

TOKEN=$token PROXIES=100000 wrk -t 2 -c 256 -d 20s --latency -s scripts/bench/heartbeat.lua "$hub" >"$work/wrk.out" &
wrk_pid=$!
sleep 3
# shellcheck disable=SC2046 # one argument per backend
h0=$(ticks "$hub_pid") p0=$(ticks $(backends)) w0=$(ticks "$wrk_pid") t0=$(date +%s.%N)
lsn0=$(psql -X -Atq "$admin" -c "SELECT pg_current_wal_lsn()")
if [ "${PERF:-0}" = 1 ]; then
  perf record -F 499 -g -p "$hub_pid" -o "$out/perf.data" -- sleep 10 >/dev/null 2>&1
else
  sleep 10
fi
# shellcheck disable=SC2046
h1=$(ticks "$hub_pid") p1=$(ticks $(backends)) w1=$(ticks "$wrk_pid") t1=$(date +%s.%N)
wal=$(psql -X -Atq "$admin" -c "SELECT pg_current_wal_lsn() - '$lsn0'::pg_lsn")
wait "$wrk_pid"
rps=$(awk '/Requests\/sec/{print $2}' "$work/wrk.out")
hz=$(getconf CLK_TCK)
python3 -c "
rps, dt, hz = $rps, $t1 - $t0, $hz
n = rps * dt
us = lambda a, b: (b - a) / hz / n * 1e6
print(f'{rps:.0f} heartbeats/s; CPU per heartbeat: hub {us($h0, $h1):.1f} us, PostgreSQL backends {us($p0, $p1):.1f} us, wrk {us($w0, $w1):.1f} us; WAL {$wal / n:.0f} bytes per heartbeat')
"
grep -E '^\s+99%' "$work/wrk.out" | sed 's/^ */p99 /'
