package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/proxyhub/proxyhub/internal/store"
)

// One batch, one transaction (READ COMMITTED), sent as pipelines on one
// connection. In the common case, where every proxy exists, that is two
// round trips:
//
//  1. BEGIN, then per tenant: set the scope, and beatSQL for all of the
//     tenant's heartbeats in one set-based statement.
//  2. Per tenant: set the scope, touch the tokens used; COMMIT.
//
// beatSQL locks the proxies' rows in name order, reads their current IP
// under the lock, updates them and appends an ip_changes record where the
// IP differs, all in one statement: the database decides what changed,
// against the latest committed state, so concurrent writers (other
// batches, other hubs) each see the other's change and none is recorded
// twice or lost.
//
// The statements are shaped so that each name costs one probe of the
// primary key whatever the table's statistics say (a new deployment's
// proxies table grows faster than ANALYZE follows): the lookups are LATERAL
// subqueries that cannot be flattened (FOR UPDATE, OFFSET 0), and the
// results are not joined back to the input (beatSQL returns tagged rows of
// each kind, matched up in Go), so no plan can degrade into comparing every
// heartbeat with every other.
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
// proxies and the tokens last, which keeps concurrent batches from
// deadlocking in the common case; the rare deadlock that remains (around
// concurrent creation) is detected by PostgreSQL and the batch is retried.

const beatSQL = `
WITH input AS (
    SELECT *
      FROM unnest($2::text[], $3::inet[], $4::inet[], $5::timestamptz[], $6::text[], $7::text[])
           WITH ORDINALITY AS i (name, ip, peer_ip, at, token_id, request_id, ord)
), locked AS (
    SELECT i.*, l.ip AS old_ip
      FROM input i
     CROSS JOIN LATERAL (
           SELECT p.ip
             FROM proxies p
            WHERE p.tenant_id = $1 AND p.name = i.name
              FOR NO KEY UPDATE
           ) l
), updated AS (
    UPDATE proxies p
       SET ip = l.ip,
           peer_ip = l.peer_ip,
           last_seen = greatest(p.last_seen, l.at),
           ip_changes = p.ip_changes + (l.old_ip <> l.ip)::int
      FROM locked l
     WHERE p.tenant_id = $1 AND p.name = l.name
 RETURNING l.ord, l.old_ip, p.created_at, p.last_seen, p.ip_changes
), changed AS (
    INSERT INTO ip_changes (tenant_id, proxy, old_ip, new_ip, at, token_id, request_id)
    SELECT $1, l.name, l.old_ip, l.ip, l.at, l.token_id, l.request_id
      FROM locked l
     WHERE l.old_ip <> l.ip
     ORDER BY l.ord
 RETURNING id, proxy
)
SELECT 'updated', ord, old_ip, created_at, last_seen, ip_changes, NULL::bigint, NULL::text FROM updated
 UNION ALL
SELECT 'changed', NULL, NULL, NULL, NULL, NULL, id, proxy FROM changed
 UNION ALL
SELECT 'tenant', NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE EXISTS (SELECT FROM tenants WHERE id = $1)`

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
    SELECT proxy_count FROM tenants WHERE id = $1
), probed AS (
    SELECT i.*, e.found IS NOT NULL AS found
      FROM input i
      LEFT JOIN LATERAL (
           SELECT true AS found FROM proxies p WHERE p.tenant_id = $1 AND p.name = i.name OFFSET 0
           ) e ON true
), fresh AS (
    SELECT p.*, row_number() OVER (ORDER BY p.ord) AS k FROM probed p WHERE NOT p.found
), created AS (
    INSERT INTO proxies (tenant_id, name, ip, peer_ip, created_at, last_seen)
    SELECT $1, f.name, f.ip, f.peer_ip, f.at, f.at
      FROM fresh f, current c
     WHERE $6::int = 0 OR c.proxy_count + f.k <= $6::int
     ORDER BY f.ord
        ON CONFLICT (tenant_id, name) DO NOTHING
 RETURNING name, created_at, last_seen
)
SELECT 'tenant', NULL::bigint, proxy_count, NULL::timestamptz, NULL::timestamptz, NULL::text FROM current
 UNION ALL
SELECT 'found', ord, NULL, NULL, NULL, NULL FROM probed WHERE found
 UNION ALL
SELECT 'created', NULL, NULL, created_at, last_seen, name FROM created`

// touchSQL moves the tokens' last_used_at forward (never back), locking
// them in id order.
const touchSQL = `
WITH used AS (
    SELECT * FROM unnest($2::text[], $3::timestamptz[]) AS u (id, at)
), locked AS (
    SELECT t.id, u.at
      FROM heartbeat_tokens t
      JOIN used u ON u.id = t.id
     WHERE t.tenant_id = $1 AND (t.last_used_at IS NULL OR t.last_used_at < u.at)
     ORDER BY t.id
       FOR NO KEY UPDATE OF t
)
UPDATE heartbeat_tokens t
   SET last_used_at = l.at
  FROM locked l
 WHERE t.tenant_id = $1 AND t.id = l.id AND (t.last_used_at IS NULL OR t.last_used_at < l.at)`

// batchTx is the state of one batch's transaction.
type batchTx struct {
	conn  *pgx.Conn
	items []*pending
	outs  []outcome
	begun bool                            // BEGIN has been queued
	used  map[string]map[string]time.Time // tenant → token → latest use
}

// writeBatch writes items in one transaction and returns each one's
// outcome; an error means nothing was committed (or, when the connection
// broke during COMMIT, that this is unknown).
func (s *Store) writeBatch(ctx context.Context, items []*pending) ([]outcome, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	// Release closes a connection left inside a transaction, which rolls
	// it back; rollback below first tries to keep the connection.
	defer conn.Release()
	tx := &batchTx{conn: conn.Conn(), items: items, outs: make([]outcome, len(items)), used: map[string]map[string]time.Time{}}
	if err := tx.run(ctx); err != nil {
		tx.rollback()
		return nil, err
	}
	return tx.outs, nil
}

// run writes every round, then commits.
func (tx *batchTx) run(ctx context.Context) error {
	for _, round := range tx.rounds() {
		if err := tx.runRound(ctx, round); err != nil {
			return err
		}
	}
	return tx.commit(ctx)
}

// runRound writes the heartbeats of one round (distinct names, sorted):
// beat the existing proxies, create the missing ones, beat those that were
// created by someone else meanwhile.
func (tx *batchTx) runRound(ctx context.Context, round []int) error {
	missing, err := tx.beat(ctx, round)
	if err != nil || len(missing) == 0 {
		return err
	}
	exists, err := tx.create(ctx, missing)
	if err != nil || len(exists) == 0 {
		return err
	}
	gone, err := tx.beat(ctx, exists)
	for _, i := range gone {
		tx.outs[i] = outcome{err: fmt.Errorf("postgres: proxy %q was deleted while it was being created: %w",
			tx.items[i].hb.Name, store.ErrUnavailable)}
	}
	return err
}

// rounds returns the indexes of tx.items cut into rounds (the n-th
// heartbeat of a name in round n), each sorted by tenant and name.
func (tx *batchTx) rounds() [][]int {
	type key struct{ tenant, name string }
	seen := make(map[key]int, len(tx.items))
	var rounds [][]int
	for i, p := range tx.items {
		k := key{p.hb.TenantID, p.hb.Name}
		n := seen[k]
		seen[k] = n + 1
		if n == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[n] = append(rounds[n], i)
	}
	for _, r := range rounds {
		slices.SortStableFunc(r, func(a, b int) int {
			ha, hb := &tx.items[a].hb, &tx.items[b].hb
			return cmp.Or(cmp.Compare(ha.TenantID, hb.TenantID), cmp.Compare(ha.Name, hb.Name))
		})
	}
	return rounds
}

// byTenant calls fn for each run of idx (sorted by tenant) with one tenant.
func (tx *batchTx) byTenant(idx []int, fn func(tenant string, group []int)) {
	for len(idx) > 0 {
		tenant := tx.items[idx[0]].hb.TenantID
		n := 1
		for n < len(idx) && tx.items[idx[n]].hb.TenantID == tenant {
			n++
		}
		fn(tenant, idx[:n])
		idx = idx[n:]
	}
}

// newBatch starts a pipeline, with BEGIN if it is the transaction's first.
func (tx *batchTx) newBatch() *pgx.Batch {
	b := &pgx.Batch{}
	if !tx.begun {
		b.Queue("BEGIN ISOLATION LEVEL READ COMMITTED").Exec(ignoreTag)
		tx.begun = true
	}
	return b
}

// beat applies the heartbeats idx (distinct names, sorted) to existing
// proxies and settles their outcomes; it returns those whose proxy does not
// exist and may be created.
func (tx *batchTx) beat(ctx context.Context, idx []int) (missing []int, err error) {
	b := tx.newBatch()
	tx.byTenant(idx, func(tenant string, group []int) {
		n := len(group)
		names, ips, peers := make([]string, n), make([]netip.Addr, n), make([]netip.Addr, n)
		ats, tokens, requests := make([]time.Time, n), make([]string, n), make([]string, n)
		for j, i := range group {
			hb := &tx.items[i].hb
			names[j], ips[j], peers[j], ats[j], tokens[j], requests[j] = hb.Name, hb.IP, hb.PeerIP, hb.At, hb.TokenID, hb.RequestID
		}
		tenantScope(tenant).queue(b)
		b.Queue(beatSQL, tenant, names, ips, peers, ats, tokens, requests).Query(func(rows pgx.Rows) error {
			results := make([]*store.HeartbeatResult, n) // by position in group; nil: no such proxy
			changes := map[string]int64{}                // proxy → change id
			tenantExists := false
			for rows.Next() {
				var kind string
				var ord pgtype.Int8
				var old netip.Addr
				var created, seen pgtype.Timestamptz
				var ipChanges, changeID pgtype.Int8
				var proxy pgtype.Text
				if err := rows.Scan(&kind, &ord, &old, &created, &seen, &ipChanges, &changeID, &proxy); err != nil {
					return err
				}
				switch kind {
				case "updated":
					results[ord.Int64-1] = &store.HeartbeatResult{
						PreviousIP: old,
						Proxy:      store.Proxy{CreatedAt: fromTimestamptz(created), LastSeen: fromTimestamptz(seen), IPChanges: ipChanges.Int64},
					}
				case "changed":
					changes[proxy.String] = changeID.Int64
				case "tenant":
					tenantExists = true
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			for j, i := range group {
				hb := &tx.items[i].hb
				res := results[j]
				switch {
				case res != nil:
					res.Proxy.TenantID, res.Proxy.Name, res.Proxy.IP, res.Proxy.PeerIP = hb.TenantID, hb.Name, hb.IP, hb.PeerIP
					if id, ok := changes[hb.Name]; ok {
						res.Changed, res.ChangeID = true, id
					} else {
						res.PreviousIP = netip.Addr{}
					}
					tx.settle(i, *res)
				case !tenantExists:
					tx.outs[i] = outcome{err: fmt.Errorf("postgres: tenant %q: %w", hb.TenantID, store.ErrNotFound)}
				case !hb.MayCreate:
					tx.outs[i] = outcome{err: fmt.Errorf("postgres: proxy %q: %w", hb.Name, store.ErrNotRegistered)}
				default:
					missing = append(missing, i)
				}
			}
			return nil
		})
	})
	return missing, tx.conn.SendBatch(ctx, b).Close()
}

// create creates the proxies of the heartbeats idx (distinct names, sorted,
// all allowed to create) and settles their outcomes; it returns those whose
// proxy turned out to exist after all. Per tenant it locks the tenant's row,
// then sends createSQL for each run of heartbeats with the same cap (one
// run, normally), so that caps apply in name order exactly as if the
// heartbeats came one by one.
func (tx *batchTx) create(ctx context.Context, idx []int) (exists []int, err error) {
	b := tx.newBatch()
	tx.byTenant(idx, func(tenant string, group []int) {
		tenantScope(tenant).queue(b)
		b.Queue(lockTenantSQL, tenant).Exec(ignoreTag)
		for len(group) > 0 {
			limit := tx.items[group[0]].hb.MaxProxies
			n := 1
			for n < len(group) && tx.items[group[n]].hb.MaxProxies == limit {
				n++
			}
			run := group[:n]
			group = group[n:]
			names, ips, peers, ats := make([]string, n), make([]netip.Addr, n), make([]netip.Addr, n), make([]time.Time, n)
			for j, i := range run {
				hb := &tx.items[i].hb
				names[j], ips[j], peers[j], ats[j] = hb.Name, hb.IP, hb.PeerIP, hb.At
			}
			b.Queue(createSQL, tenant, names, ips, peers, ats, max(limit, 0)).Query(func(rows pgx.Rows) error {
				tenantExists := false
				found := make([]bool, n)
				created := map[string]store.Proxy{}
				for rows.Next() {
					var kind string
					var ord pgtype.Int8
					var count pgtype.Int4
					var createdAt, seen pgtype.Timestamptz
					var name pgtype.Text
					if err := rows.Scan(&kind, &ord, &count, &createdAt, &seen, &name); err != nil {
						return err
					}
					switch kind {
					case "tenant":
						tenantExists = true
					case "found":
						found[ord.Int64-1] = true
					case "created":
						created[name.String] = store.Proxy{CreatedAt: fromTimestamptz(createdAt), LastSeen: fromTimestamptz(seen)}
					}
				}
				if err := rows.Err(); err != nil {
					return err
				}
				for j, i := range run {
					hb := &tx.items[i].hb
					p, ok := created[hb.Name]
					switch {
					case ok:
						p.TenantID, p.Name, p.IP, p.PeerIP = hb.TenantID, hb.Name, hb.IP, hb.PeerIP
						tx.settle(i, store.HeartbeatResult{Created: true, Proxy: p})
					case !tenantExists:
						tx.outs[i] = outcome{err: fmt.Errorf("postgres: tenant %q: %w", hb.TenantID, store.ErrNotFound)}
					case !found[j] && limit > 0:
						tx.outs[i] = outcome{err: fmt.Errorf("postgres: proxy %q: the tenant has the %d proxies allowed: %w",
							hb.Name, limit, store.ErrQuotaExceeded)}
					default: // created by another transaction before the lock was granted
						exists = append(exists, i)
					}
				}
				return nil
			})
		}
	})
	return exists, tx.conn.SendBatch(ctx, b).Close()
}

// settle records a written heartbeat's result and its token's use.
func (tx *batchTx) settle(i int, res store.HeartbeatResult) {
	tx.outs[i] = outcome{res: res}
	hb := &tx.items[i].hb
	if hb.TokenID == "" {
		return
	}
	used := tx.used[hb.TenantID]
	if used == nil {
		used = map[string]time.Time{}
		tx.used[hb.TenantID] = used
	}
	if hb.At.After(used[hb.TokenID]) {
		used[hb.TokenID] = hb.At
	}
}

// commit touches the tokens the written heartbeats used and commits, in
// one pipeline.
func (tx *batchTx) commit(ctx context.Context) error {
	b := tx.newBatch()
	for _, tenant := range slices.Sorted(maps.Keys(tx.used)) {
		used := tx.used[tenant]
		ids := slices.Sorted(maps.Keys(used))
		ats := make([]time.Time, len(ids))
		for j, id := range ids {
			ats[j] = used[id]
		}
		tenantScope(tenant).queue(b)
		b.Queue(touchSQL, tenant, ids, ats).Exec(ignoreTag)
	}
	b.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return errors.New("postgres: batch transaction was rolled back")
		}
		return nil
	})
	return tx.conn.SendBatch(ctx, b).Close()
}

// rollback ends a failed transaction, so that the connection can be
// reused; if it cannot, Release closes the connection.
func (tx *batchTx) rollback() {
	if !tx.begun || tx.conn.IsClosed() || tx.conn.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = tx.conn.Exec(ctx, "ROLLBACK")
}
