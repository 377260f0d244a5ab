#!/usr/bin/env bash
# The audit-history benchmark of BENCHMARKS.md: 10 million IP-change rows in
# one tenant (10,000 proxies × 1,000 changes), then one page of one proxy's
# history and one page of the tenant's history, with the plans the store's
# own queries get (EXPLAIN ANALYZE, BUFFERS) and their timings.
#
#   bash scripts/bench/history-10m.sh [postgres://postgres@127.0.0.1:5432/postgres]
#
# It creates a database proxyhub_bench_history (dropped first if present).
set -euo pipefail
cd "$(dirname "$0")/../.."
admin=${1:-${PROXYHUB_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
db=proxyhub_bench_history
url=${admin%/*}/$db
psql -X -q "$admin" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
go run ./cmd/proxyhub migrate --database-url "$url?sslmode=disable"
echo "--- inserting 10,000,000 rows"
time psql -X -q -v ON_ERROR_STOP=1 "$url" <<'SQL'
SET synchronous_commit = off;
INSERT INTO tenants (id, name, offline_after_ms, max_proxies, auto_register, created_at, updated_at)
VALUES ('acme', 'Acme', 80000, 10000, true, now(), now());
-- 1,000 rounds: in each, every one of 10,000 proxies changes IP once.
INSERT INTO ip_changes (tenant_id, proxy, old_ip, new_ip, at, token_id, request_id)
SELECT 'acme', 'edge-' || lpad(p::text, 5, '0'),
       ('11.' || (p % 250) || '.' || (r % 250) || '.1')::inet,
       ('11.' || (p % 250) || '.' || ((r + 1) % 250) || '.1')::inet,
       timestamptz '2026-01-01' + (r * interval '1 minute') + (p * interval '1 millisecond'),
       'tok_bench', 'req-' || r || '-' || p
  FROM generate_series(1, 1000) AS r, generate_series(1, 10000) AS p
 ORDER BY r, p;
ANALYZE ip_changes;
SQL
psql -X -q "$url" -c "SELECT count(*) AS rows, pg_size_pretty(pg_total_relation_size('ip_changes')) AS size FROM ip_changes"
# The queries ScanIPChanges sends (internal/store/postgres/audit.go), with a
# page of 101 rows (limit 100 + 1 to tell whether a next page exists),
# under the store's tenant scope.
for q in \
  "one proxy, first page|proxy = 'edge-04242'" \
  "one proxy, a page deep in its history (cursor)|proxy = 'edge-04242' AND id < 5000000" \
  "the tenant, first page|true" \
  "the tenant, a page deep in its history (cursor)|id < 5000000"; do
  name=${q%%|*} cond=${q#*|}
  echo "--- $name"
  psql -X -q "$url" <<SQL
BEGIN;
SELECT set_config('proxyhub.tenant', 'acme', true);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id, tenant_id, proxy, old_ip, new_ip, at, token_id, request_id
  FROM ip_changes WHERE tenant_id = 'acme' AND $cond ORDER BY id DESC LIMIT 101;
COMMIT;
SQL
done
