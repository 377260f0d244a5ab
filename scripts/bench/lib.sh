# Functions the benchmark scripts share: build the binaries, start a fresh
# hub on a store. Source it after setting work (a temporary directory) and
# store (postgres, embedded or memory).
#
# PostgreSQL: a fresh database proxyhub_bench owned by the ordinary role
# proxyhub_bench, which migrates it; the hub connects as the application
# role proxyhub_bench_app, as in production, so that row-level security
# applies; on the server the admin URL reaches (PROXYHUB_TEST_DATABASE_URL, default
# postgres://postgres@127.0.0.1:5432/postgres).

admin=${PROXYHUB_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
hub=http://127.0.0.1:3199
hub_pid=

# build_binaries builds proxyhub and proxyhub-loadtest into $work and makes
# the hub's signing key.
build_binaries() {
  go build -o "$work/proxyhub" ./cmd/proxyhub
  go build -o "$work/proxyhub-loadtest" ./cmd/proxyhub-loadtest
  ph=$work/proxyhub
  lt=$work/proxyhub-loadtest
  "$ph" keygen --out "$work/hub.key" >/dev/null
  export PROXYHUB_SIGNING_KEY_FILE=$work/hub.key PROXYHUB_ADDR=127.0.0.1:3199 PROXYHUB_TRUSTED_PROXIES=127.0.0.1
}

# start_hub (re)starts the hub on $store with empty data and exports a
# platform JWT for the load tool.
start_hub() {
  [ -n "$hub_pid" ] && { kill "$hub_pid"; wait "$hub_pid" 2>/dev/null || true; }
  if [ "$store" = postgres ]; then
    psql -X -q "$admin" -c "DO \$\$BEGIN CREATE ROLE proxyhub_bench LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$" \
      -c "DO \$\$BEGIN CREATE ROLE proxyhub_bench_app LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END\$\$" \
      -c "DROP DATABASE IF EXISTS proxyhub_bench" -c "CREATE DATABASE proxyhub_bench OWNER proxyhub_bench"
    local db=${admin%/*}/proxyhub_bench
    PROXYHUB_DATABASE_URL=$(sed -E 's#//[^@/]*@#//proxyhub_bench@#' <<<"$db") "$ph" migrate --app-role proxyhub_bench_app >/dev/null
    export PROXYHUB_DATABASE_URL
    PROXYHUB_DATABASE_URL=$(sed -E 's#//[^@/]*@#//proxyhub_bench_app@#' <<<"$db")
  else
    unset PROXYHUB_DATABASE_URL
    rm -rf "$work/data"
    export PROXYHUB_DATA_DIR=$work/data
    [ "$store" = memory ] && PROXYHUB_DATA_DIR=:memory:
  fi
  "$ph" serve >"$work/hub.log" 2>&1 &
  hub_pid=$!
  for _ in $(seq 50); do curl -fs "$hub/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  export PROXYHUB_LOADTEST_JWT
  PROXYHUB_LOADTEST_JWT=$("$ph" jwt --role platform)
}
