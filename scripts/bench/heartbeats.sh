#!/usr/bin/env bash
# The end-to-end heartbeat benchmark of BENCHMARKS.md: a hub on PostgreSQL,
# on the durable embedded store (SQLite in a fresh data directory) or on
# the in-memory store, `proxyhub-loadtest` and the database on this
# machine, loopback only.
#
#   bash scripts/bench/heartbeats.sh [postgres|embedded|memory] [connections ...]
#
# For each connection count: a fresh database (proxyhub_bench, owned by the
# ordinary role proxyhub_bench so that row-level security applies), a fresh
# hub, a registration pass of 20,000 proxies, then 5 bursts of all of them
# (10 % change IP each round) with the audit check of every acknowledged
# change. Then a 20 s steady run at the last connection count, with the CPU
# time each process used per heartbeat (hub, PostgreSQL's backends, the load
# generator) read from /proc: where the machine's two cores go.
#
# CHANGE=0.01 sets the fraction of proxies that change IP each round
# (default: the load generator's, 10 %).
#
# Needs a PostgreSQL server the admin URL reaches (PROXYHUB_TEST_DATABASE_URL,
# default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/../.."
store=${1:-postgres}
shift || true
case $store in postgres | embedded | memory) ;; *) echo "store: postgres, embedded or memory" >&2; exit 2 ;; esac
conns=("${@:-256 512}")
read -r -a conns <<<"${conns[*]}"
proxies=${PROXIES:-20000}
work=$(mktemp -d)
. scripts/bench/lib.sh
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
build_binaries
export PROXYHUB_RATE_HEARTBEAT=200000/1m PROXYHUB_RATE_HEARTBEAT_TOKEN=off

# cpu_ticks PID...: utime+stime of the processes, in clock ticks.
cpu_ticks() { local t=0 v; for p in "$@"; do v=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + v)); done; echo "$t"; }
pg_pids() { pgrep -u postgres -d ' ' postgres || true; }

echo "store: $store; $(nproc) cores; $proxies proxies"
for c in "${conns[@]}"; do
  start_hub
  echo "--- burst, $c connections"
  "$lt" --hub "$hub" --mode burst --proxies "$proxies" --rounds 5 --concurrency "$c" ${BASELINE:+--baseline} ${CHANGE:+--change-fraction "$CHANGE"} |
    grep -E '^ +(requests|hub|baseline)|^(errors|verify|result):'
done

c=${conns[-1]}
start_hub
"$lt" --hub "$hub" --mode burst --proxies "$proxies" --rounds 1 --concurrency "$c" >/dev/null
echo "--- steady, 20 s, $c connections: CPU per heartbeat"
h0=$(cpu_ticks "$hub_pid"); p0=$(cpu_ticks $(pg_pids))
/usr/bin/time -f '%U %S' -o "$work/lt.time" "$lt" --hub "$hub" --mode steady --rate 0 --duration 20s --proxies "$proxies" \
  --concurrency "$c" ${CHANGE:+--change-fraction "$CHANGE"} --json >"$work/lt.json"
h1=$(cpu_ticks "$hub_pid"); p1=$(cpu_ticks $(pg_pids))
hz=$(getconf CLK_TCK)
python3 - "$work/lt.json" "$work/lt.time" "$((h1 - h0))" "$((p1 - p0))" "$hz" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
u, s = map(float, open(sys.argv[2]).read().split())
hub, pg, hz = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
n, rate = res["requests"], res["throughput_rps"]
print(f"heartbeats {n:,}, {rate:,.0f}/s, p99 {res['latency_ms']['p99']:.1f} ms, errors {res['error_total']}, verify passed: {res['passed']}")
for name, sec in (("hub", hub / hz), ("postgres", pg / hz), ("load generator", u + s)):
    print(f"  {name:15s} {sec:6.2f} s CPU  {sec / n * 1e6:6.1f} µs per heartbeat")
total = (hub + pg) / hz + u + s
print(f"  {'all':15s} {total:6.2f} s CPU  {total / n * 1e6:6.1f} µs per heartbeat"
      f" -> at most {2e6 / (total / n * 1e6):,.0f}/s on 2 cores")
PY
