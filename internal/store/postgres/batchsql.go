package postgres

// One batch, one transaction (READ COMMITTED), sent as pipelines on one
// connection. In the common case, where every proxy exists, that is two
// round trips:
//
//  1. BEGIN, then per tenant: set the scope, and beatSQL for all of the
//     tenant's heartbeats in one set-based statement.
//  2. The events the batch produced, if any (see events.go): take the
//     event-stream locks of their tenants, then per tenant set the scope
//     and append them. Per tenant: set the scope, touch the tokens used;
//     COMMIT.
//
// beatSQL first checks that each heartbeat's token (if it names one) is
// still live: not revoked, not expired at the heartbeat's time, in this
// tenant. Heartbeats whose token is not are refused (tagged rows) and touch
// nothing; this is what makes the token cache (tokencache.go) safe. Then it
// locks the proxies' rows in name order, reads their current IP
// and state under the lock, updates them (last_seen, the deadline from the
// row's own timeout, state online) and appends an ip_changes record where
// the IP differs, all in one statement: the database decides what changed
// and whether the proxy came back online, against the latest committed
// state, so concurrent writers (other batches, other hubs, the sweeper)
// each see the other's change and none is recorded twice or lost. The
// events those decisions make (ip_changed, online; registered from
// createSQL) are appended at commit, in the same transaction.
//
// The statements are shaped so that each name costs one probe of the
// primary key whatever the table's statistics say (a new deployment's
// proxies table grows faster than ANALYZE follows): the lookups are LATERAL
// subqueries that cannot be flattened (FOR UPDATE, OFFSET 0), and the
// results are not joined back to the input (beatSQL returns tagged rows of
// each kind, matched up in Go), so no plan can degrade into comparing every
// heartbeat with every other. The one join, beatSQL's UPDATE back to the
// locked rows, is carried by the locked rows' own key (tenant_id, name):
// the UPDATE has no restriction of its own, such as tenant_id = $1, that an
// index could serve. With one, and no statistics yet (a young table; the
// row-level security filters multiply the estimate down further), the
// planner believed the tenant had a handful of proxies and put all of them
// on the outer side of a nested loop over the batch: tenant size × batch
// size comparisons per batch, heartbeats 60 times slower (measured). A
// standalone name = ANY($2) restriction fails the same way when it is
// demoted to a filter. Without any, every alternative to one primary-key
// probe per locked row has to read the whole table, whose cost the planner
// knows from its physical size, statistics or not.
//
// A name that appears more than once in a batch is applied in order: the
// batch is cut into rounds, the n-th heartbeat of a name going into round
// n, and rounds run one after the other in the transaction.
//
// Heartbeats of names that do not exist yet (and may be created) take one
// more round trip: per tenant, lock the tenant's row (which serializes
// creation in the tenant, so that the proxy count the quota is checked
// against is exact), then createSQL for all of them. A name that another
// transaction created meanwhile is beaten again, in one more round trip.
//
// Locks are taken in (tenant, name) order, the tenant's row after its
// proxies, then the event-stream locks (all at once, in key order), the
// tokens last, which keeps concurrent batches from deadlocking in the
// common case; the rare deadlock that remains (around concurrent creation)
// is detected by PostgreSQL and the batch is retried.

const beatSQL = `
WITH input AS (
    SELECT *
      FROM unnest($2::text[], $3::inet[], $4::inet[], $5::timestamptz[], $6::text[], $7::text[])
           WITH ORDINALITY AS i (name, ip, peer_ip, at, token_id, request_id, ord)
), checked AS (
    SELECT i.*, (i.token_id = '' OR coalesce(k.live, false)) AS live
      FROM input i
      LEFT JOIN LATERAL (
           SELECT true AS live
             FROM heartbeat_tokens t
            WHERE t.tenant_id = $1 AND t.id = i.token_id AND t.revoked_at IS NULL
              AND (t.expires_at IS NULL OR t.expires_at > i.at)
           OFFSET 0
           ) k ON true
), locked AS (
    SELECT i.*, $1::text AS tenant_id, l.ip AS old_ip, l.state AS old_state
      FROM checked i
     CROSS JOIN LATERAL (
           SELECT p.ip, p.state
             FROM proxies p
            WHERE p.tenant_id = $1 AND p.name = i.name AND i.live
              FOR NO KEY UPDATE
           ) l
), updated AS (
    UPDATE proxies p
       SET ip = l.ip,
           peer_ip = l.peer_ip,
           last_seen = greatest(p.last_seen, l.at),
           ip_changes = p.ip_changes + (l.old_ip <> l.ip)::int,
           state = 'online',
           deadline = greatest(p.last_seen, l.at) + p.timeout_ms * interval '1 millisecond'
      FROM locked l
     WHERE p.tenant_id = l.tenant_id AND p.name = l.name
 RETURNING l.ord, l.old_ip, l.old_state, p.created_at, p.last_seen, p.ip_changes, p.paused, p.offline_after_ms, p.deadline
), changed AS (
    INSERT INTO ip_changes (tenant_id, proxy, old_ip, new_ip, at, token_id, request_id)
    SELECT $1, l.name, l.old_ip, l.ip, l.at, l.token_id, l.request_id
      FROM locked l
     WHERE l.old_ip <> l.ip
     ORDER BY l.ord
 RETURNING id, proxy
)
SELECT 'updated', ord, old_ip, old_state, created_at, last_seen, ip_changes, paused, offline_after_ms, deadline, NULL::bigint, NULL::text FROM updated
 UNION ALL
SELECT 'changed', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, id, proxy FROM changed
 UNION ALL
SELECT 'tenant', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE EXISTS (SELECT FROM tenants WHERE id = $1)
 UNION ALL
SELECT 'refused', ord, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM checked WHERE NOT live`

// lockTenantSQL serializes proxy creation within a tenant; the trigger
// that counts proxies takes the same lock.
const lockTenantSQL = `SELECT FROM tenants WHERE id = $1 FOR NO KEY UPDATE`

// createSQL creates the proxies of one tenant's heartbeats that do not
// exist yet, in order ($2…$5, sorted by name), while the tenant's count
// stays within the cap ($6, 0: none): the k-th new name is created when
// count + k <= cap. It runs after lockTenantSQL, in a statement of its own,
// so its snapshot sees every proxy created before the lock was granted and
// the count (kept by the proxies_count triggers) is exact. It returns tagged
// rows: the tenant's count before the statement (none: no such tenant), the
// positions of names that existed already, and the proxies created.
const createSQL = `
WITH input AS (
    SELECT *
      FROM unnest($2::text[], $3::inet[], $4::inet[], $5::timestamptz[])
           WITH ORDINALITY AS i (name, ip, peer_ip, at, ord)
), current AS (
    SELECT proxy_count, proxyhub_timeout_ms(NULL, offline_after_ms) AS timeout_ms FROM tenants WHERE id = $1
), probed AS (
    SELECT i.*, e.found IS NOT NULL AS found
      FROM input i
      LEFT JOIN LATERAL (
           SELECT true AS found FROM proxies p WHERE p.tenant_id = $1 AND p.name = i.name OFFSET 0
           ) e ON true
), fresh AS (
    SELECT p.*, row_number() OVER (ORDER BY p.ord) AS k FROM probed p WHERE NOT p.found
), created AS (
    INSERT INTO proxies (tenant_id, name, ip, peer_ip, created_at, last_seen, state, timeout_ms, deadline)
    SELECT $1, f.name, f.ip, f.peer_ip, f.at, f.at, 'online', c.timeout_ms, f.at + c.timeout_ms * interval '1 millisecond'
      FROM fresh f, current c
     WHERE $6::int = 0 OR c.proxy_count + f.k <= $6::int
     ORDER BY f.ord
        ON CONFLICT (tenant_id, name) DO NOTHING
 RETURNING name, created_at, last_seen, deadline
)
SELECT 'tenant', NULL::bigint, proxy_count, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz, NULL::text FROM current
 UNION ALL
SELECT 'found', ord, NULL, NULL, NULL, NULL, NULL FROM probed WHERE found
 UNION ALL
SELECT 'created', NULL, NULL, created_at, last_seen, deadline, name FROM created`

// touchSQL moves the tokens' last_used_at forward (never back), locking
// them in id order; only those whose last_used_at is at least $4
// (store.TokenTouchInterval) older than their use: batches that share a
// token do not all lock its row until they commit, one in each interval
// does.
const touchSQL = `
WITH used AS (
    SELECT * FROM unnest($2::text[], $3::timestamptz[]) AS u (id, at)
), locked AS (
    SELECT t.id, u.at
      FROM heartbeat_tokens t
      JOIN used u ON u.id = t.id
     WHERE t.tenant_id = $1 AND (t.last_used_at IS NULL OR t.last_used_at <= u.at - $4::interval)
     ORDER BY t.id
       FOR NO KEY UPDATE OF t
)
UPDATE heartbeat_tokens t
   SET last_used_at = l.at
  FROM locked l
 WHERE t.tenant_id = $1 AND t.id = l.id AND (t.last_used_at IS NULL OR t.last_used_at < l.at)`
