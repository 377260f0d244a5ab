package postgres

import "time"

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
// tenant, as of the statement's snapshot (a revocation that commits while
// the statement runs does not stop it: those heartbeats arrived before).
// Heartbeats whose token is not live are refused (tagged rows) and touch
// nothing; this is what makes the token cache (tokencache.go) safe. Then one
// UPDATE applies the others to their proxies' rows (last_seen, the deadline
// from the row's own timeout, state online) and keeps each row's previous
// IP and state in prev_ip and prev_state (migrations/007), which RETURNING
// reports; where the IP differs an ip_changes record is appended, all in
// one statement. In READ COMMITTED an UPDATE that meets a row changed by a
// concurrent transaction waits for it and re-evaluates its SET against the
// latest version, so the previous values are those of the latest committed
// state, read under the row's lock: concurrent writers (other batches,
// other hubs, the sweeper) each see the other's change and none is recorded
// twice or lost. The events those decisions make (ip_changed, online;
// registered from createSQL) are appended at commit, in the same
// transaction.
//
// Each name must cost one probe of the primary key, whatever the table's
// statistics say. The lookups of the other statements are LATERAL
// subqueries that cannot be flattened (OFFSET 0), and results are not
// joined back to the input (tagged rows of each kind, matched up in Go).
// The UPDATE has to be a join; two things keep it a nested loop from the
// batch into the primary key:
//   - It has no restriction on proxies of its own (such as tenant_id = $1):
//     the join is carried by the input's (tenant_id, name). With one, and
//     no statistics yet (a young table; the row-level security filters
//     multiply the estimate down further), the planner believed the tenant
//     had a handful of proxies and put them on the outer side of a nested
//     loop over the batch: tenant size × batch size comparisons per batch,
//     heartbeats 60 times slower (measured).
//   - The batch transaction turns off hash and merge joins (plannerSQL).
//     With statistics, the planner costed a hash join over a sequential
//     scan of the whole tenant below 256 probes (it prices each probe as
//     random I/O): 20 ms of a 30 ms batch at 20,000 proxies, measured with
//     EXPLAIN ANALYZE. Without them every alternative to one probe per
//     heartbeat reads the whole table for each heartbeat.
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
    SELECT i.*, $1::text AS tenant_id, (i.token_id = '' OR coalesce(k.live, false)) AS live
      FROM input i
      LEFT JOIN LATERAL (
           SELECT true AS live
             FROM heartbeat_tokens t
            WHERE t.tenant_id = $1 AND t.id = i.token_id AND t.revoked_at IS NULL
              AND (t.expires_at IS NULL OR t.expires_at > i.at)
           OFFSET 0
           ) k ON true
), updated AS (
    UPDATE proxies p
       SET prev_ip = p.ip,
           prev_state = p.state,
           ip = i.ip,
           peer_ip = i.peer_ip,
           last_seen = greatest(p.last_seen, i.at),
           ip_changes = p.ip_changes + (p.ip <> i.ip)::int,
           state = 'online',
           deadline = greatest(p.last_seen, i.at) + p.timeout_ms * interval '1 millisecond',
           -- check_at (indexed) moves only when the proxy comes back online:
           -- a steady heartbeat changes no indexed column, so it is HOT.
           check_at = CASE WHEN p.state = 'online' THEN p.check_at
                           ELSE greatest(p.last_seen, i.at) + p.timeout_ms * interval '1 millisecond' END
      FROM checked i
     WHERE p.tenant_id = i.tenant_id AND p.name = i.name AND i.live
 RETURNING i.ord, i.name, i.ip AS new_ip, i.at, i.token_id, i.request_id,
           p.prev_ip AS old_ip, p.prev_state AS old_state,
           p.created_at, p.last_seen, p.ip_changes, p.paused, p.offline_after_ms, p.deadline
), changed AS (
    INSERT INTO ip_changes (tenant_id, proxy, old_ip, new_ip, at, token_id, request_id)
    SELECT $1, u.name, u.old_ip, u.new_ip, u.at, u.token_id, u.request_id
      FROM updated u
     WHERE u.old_ip <> u.new_ip
     ORDER BY u.ord
 RETURNING id, proxy
)
SELECT 'updated', ord, old_ip, old_state, created_at, last_seen, ip_changes, paused, offline_after_ms, deadline, NULL::bigint, NULL::text FROM updated
 UNION ALL
SELECT 'changed', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, id, proxy FROM changed
 UNION ALL
SELECT 'tenant', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE EXISTS (SELECT FROM tenants WHERE id = $1)
 UNION ALL
SELECT 'refused', ord, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM checked WHERE NOT live`

// plannerSQL keeps a batch transaction's joins to nested loops (see
// above). The settings end with the transaction.
const plannerSQL = `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), set_config('enable_seqscan', 'off', true), set_config('enable_material', 'off', true)`

// lockTimeoutSQL bounds a batch transaction's every lock wait
// (Options.LockTimeout): a row or lock held by a stalled session (a frozen
// hub, an operator's open transaction) fails the batch quickly, which is
// then written one heartbeat at a time, so that only the heartbeats that
// need the held lock fail (503).
const lockTimeoutSQL = `SELECT set_config('lock_timeout', $1, true)`

// DefaultLockTimeout is Options.LockTimeout's default. Between the hub's
// own writers a lock is held for milliseconds.
const DefaultLockTimeout = time.Second

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
    INSERT INTO proxies (tenant_id, name, ip, peer_ip, created_at, last_seen, state, timeout_ms, deadline, check_at)
    SELECT $1, f.name, f.ip, f.peer_ip, f.at, f.at, 'online', c.timeout_ms, f.at + c.timeout_ms * interval '1 millisecond',
           f.at + c.timeout_ms * interval '1 millisecond'
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
// (hub.TokenTouchInterval) older than their use: batches that share a
// token do not all lock its row until they commit, one in each interval
// does. A token row another transaction holds is skipped, never waited
// for: that transaction is moving it forward itself, and a stalled one
// (a frozen hub) must not hold up every heartbeat of the token.
const touchSQL = `
WITH used AS (
    SELECT * FROM unnest($2::text[], $3::timestamptz[]) AS u (id, at)
), locked AS (
    SELECT t.id, u.at
      FROM heartbeat_tokens t
      JOIN used u ON u.id = t.id
     WHERE t.tenant_id = $1 AND (t.last_used_at IS NULL OR t.last_used_at <= u.at - $4::interval)
     ORDER BY t.id
       FOR NO KEY UPDATE OF t SKIP LOCKED
)
UPDATE heartbeat_tokens t
   SET last_used_at = l.at
  FROM locked l
 WHERE t.tenant_id = $1 AND t.id = l.id AND (t.last_used_at IS NULL OR t.last_used_at < l.at)`
