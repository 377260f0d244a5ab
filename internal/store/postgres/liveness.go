package postgres

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// ScanEvents implements hub.LivenessStore, streaming like ScanIPChanges
// (keyset order on id, ascending or descending); a tenant that does not
// exist is hub.ErrNotFound.
func (s *Store) ScanEvents(ctx context.Context, tenantID string, q hub.EventQuery, fn func(hub.Event) error) error {
	w := &where{}
	w.add("tenant_id = $?", tenantID)
	if len(q.Types) > 0 {
		types := make([]string, len(q.Types))
		for i, t := range q.Types {
			types[i] = string(t)
		}
		w.add("type = ANY($?::text[])", types)
	}
	if q.Proxy != "" {
		w.add("proxy = $?", q.Proxy)
	}
	if !q.Since.IsZero() {
		w.add("at >= $?", q.Since)
	}
	if !q.Until.IsZero() {
		w.add("at < $?", q.Until)
	}
	if q.AfterID > 0 {
		w.add("id > $?", q.AfterID)
	}
	if q.BeforeID > 0 {
		w.add("id < $?", q.BeforeID)
	}
	order := " ORDER BY id DESC"
	if q.Ascending {
		order = " ORDER BY id"
	}
	sql := `SELECT ` + eventColumns + ` FROM events WHERE ` + w.String() + order + w.limit(q.Limit)
	return s.scanAudit(ctx, tenantID, "postgres: scan events", sql, w.args, func(rows pgx.Rows) error {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		return fn(e)
	})
}

// sweepSelectSQL selects and locks at most $2 online, unpaused proxies
// whose check_at is before $1, earliest first, across tenants (sweeper
// scope). check_at is never after a proxy's deadline (migrations/011), so
// every proxy due is among them. It reads the partial index proxies_due,
// so it costs what is due, not the fleet. SKIP LOCKED leaves the rows
// another sweeper (or a heartbeat) holds, so concurrent sweepers never
// flip one proxy twice and a sweep waits for nobody; a row a heartbeat
// updated meanwhile is checked again under the lock (READ COMMITTED
// rechecks the condition on the newest version).
const sweepSelectSQL = `
SELECT tenant_id, name
  FROM proxies
 WHERE state = 'online' AND NOT paused AND check_at < $1
 ORDER BY check_at
 LIMIT $2
   FOR NO KEY UPDATE SKIP LOCKED`

// expireSQL visits the proxies sweepSelectSQL selects (one probe of the
// primary key each): those whose deadline has passed go offline, the
// others (heartbeats moved their deadline on) get check_at = deadline.
// It returns every visited proxy and whether it was flipped.
const expireSQL = `
WITH due AS MATERIALIZED (` + sweepSelectSQL + `
)
UPDATE proxies p
   SET state = CASE WHEN p.deadline < $1 THEN 'offline' ELSE 'online' END,
       check_at = p.deadline
  FROM due d
 WHERE p.tenant_id = d.tenant_id AND p.name = d.name
   AND p.state = 'online' AND NOT p.paused AND p.check_at < $1
RETURNING p.tenant_id, p.name, p.deadline, p.ip, p.state = 'offline'`

// sweepPlannerSQL keeps a sweep transaction's plans to one walk of
// proxies_due in check_at order and one probe of the primary key per
// proxy, whatever the statistics say (the settings end with the
// transaction). Statistics lag behind a sweep's reality: a fleet
// registered at once comes due at once, long after the table was last
// analyzed, when few proxies were due. With those statistics the planner
// chose a bitmap scan of every due proxy and a sort for the selection,
// and for each of its 1,000 proxies a BitmapAnd of the primary key with
// the whole of proxies_due: 8 s a sweep transaction at 100,000 proxies
// due, measured, while the heartbeats of those proxies waited for its row
// locks past their lock timeout.
const sweepPlannerSQL = `SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), set_config('enable_seqscan', 'off', true)`

// insertOfflineSQL appends the offline events of a sweep (sweeper scope,
// which may append nothing else), in the arrays' order.
const insertOfflineSQL = `
INSERT INTO events (tenant_id, type, proxy, at, new_ip)
SELECT e.tenant_id, 'offline', e.proxy, e.at, e.new_ip
  FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::inet[])
       WITH ORDINALITY AS e (tenant_id, proxy, at, new_ip, ord)
 ORDER BY e.ord
RETURNING ` + eventColumns

// sweepChunk is how many proxies one transaction of ExpireProxies flips
// when the caller sets no limit.
const sweepChunk = 1000

// ExpireProxies implements hub.LivenessStore. One transaction flips the
// proxies (expireSQL), then takes the event-stream locks of their tenants
// (in key order; see events.go) and appends the offline events, At = each
// proxy's deadline, and notifies each tenant's watchers at commit. A limit
// of 0 or less flips everything due, sweepChunk proxies per transaction.
func (s *Store) ExpireProxies(ctx context.Context, now time.Time, limit int) ([]hub.Event, error) {
	if limit > 0 {
		// A visit that only moved check_at flips nothing: go on until
		// limit proxies are flipped or nothing is left to visit.
		var all []hub.Event
		for len(all) < limit {
			want := limit - len(all)
			evs, visited, err := s.expire(ctx, now, want)
			all = append(all, evs...)
			if err != nil || visited < want {
				return all, err
			}
		}
		return all, nil
	}
	var all []hub.Event
	for {
		evs, visited, err := s.expire(ctx, now, sweepChunk)
		all = append(all, evs...)
		if err != nil || visited < sweepChunk {
			return all, err
		}
	}
}

// expire is one transaction of ExpireProxies; limit > 0. It returns the
// offline events and how many proxies it visited (flipped or not).
func (s *Store) expire(ctx context.Context, now time.Time, limit int) ([]hub.Event, int, error) {
	type flip struct {
		tenant, name string
		deadline     time.Time
		ip           netip.Addr
	}
	var out []hub.Event
	visited := 0
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var flips []flip
		visited = 0
		b := &pgx.Batch{}
		sweeperScope.queue(b)
		b.Queue(sweepPlannerSQL).Exec(ignoreTag)
		b.Queue(expireSQL, now, limit).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var f flip
				var flipped bool
				if err := rows.Scan(&f.tenant, &f.name, &f.deadline, &f.ip, &flipped); err != nil {
					return err
				}
				visited++
				if flipped {
					flips = append(flips, f)
				}
			}
			return rows.Err()
		})
		if err := tx.SendBatch(ctx, b).Close(); err != nil || len(flips) == 0 {
			return err
		}
		slices.SortFunc(flips, func(a, b flip) int {
			return cmp.Or(a.deadline.Compare(b.deadline), cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.name, b.name))
		})
		n := len(flips)
		tenants, names, deadlines, ips := make([]string, n), make([]string, n), make([]time.Time, n), make([]netip.Addr, n)
		distinct := map[string]bool{}
		for i, f := range flips {
			tenants[i], names[i], deadlines[i], ips[i] = f.tenant, f.name, f.deadline, f.ip
			distinct[f.tenant] = true
		}
		b = &pgx.Batch{}
		b.Queue(lockEventStreamsSQL, slices.Sorted(maps.Keys(distinct))).Exec(ignoreTag)
		b.Queue(insertOfflineSQL, tenants, names, deadlines, ips).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				e, err := scanEvent(rows)
				if err != nil {
					return err
				}
				out = append(out, e)
			}
			return rows.Err()
		})
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, 0, translate(err, "postgres: expire proxies")
	}
	slices.SortFunc(out, func(a, b hub.Event) int { return cmp.Compare(a.ID, b.ID) })
	return out, visited, nil
}

// NextDeadline implements hub.LivenessStore: the first entry of the
// partial index proxies_due (sweeper scope), the earliest check_at, which
// is never after the earliest deadline.
func (s *Store) NextDeadline(ctx context.Context) (time.Time, error) {
	var next pgtype.Timestamptz
	err := s.inScope(ctx, sweeperScope, "postgres: next deadline", func(b *pgx.Batch) {
		b.Queue(`SELECT min(check_at) FROM proxies WHERE state = 'online' AND NOT paused`).QueryRow(func(row pgx.Row) error {
			return row.Scan(&next)
		})
	})
	return fromTimestamptz(next), err
}

// SetPaused implements hub.LivenessStore. Resuming a paused proxy sets
// its deadline to greatest(last_seen, at) + its timeout; pausing or
// resuming a proxy already so changes nothing.
func (s *Store) SetPaused(ctx context.Context, tenantID, name string, paused bool, at time.Time) (hub.Proxy, error) {
	var p hub.Proxy
	err := s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: pause proxy %q", name), func(b *pgx.Batch) {
		b.Queue(`UPDATE proxies
			    SET paused = $3,
			        deadline = CASE WHEN paused AND NOT $3::boolean
			                        THEN greatest(last_seen, $4) + timeout_ms * interval '1 millisecond'
			                        ELSE deadline END,
			        check_at = CASE WHEN paused AND NOT $3::boolean
			                        THEN greatest(last_seen, $4) + timeout_ms * interval '1 millisecond'
			                        ELSE check_at END
			  WHERE tenant_id = $1 AND name = $2
			RETURNING `+proxyColumns, tenantID, name, paused, at).QueryRow(func(row pgx.Row) (err error) {
			p, err = scanProxy(row)
			return err
		})
	})
	return p, err
}

// SetOfflineAfter implements hub.LivenessStore. It locks the tenant's
// row (FOR SHARE, which waits for an UpdateTenant in flight), so that the
// timeout a cleared override falls back to is the tenant's latest.
func (s *Store) SetOfflineAfter(ctx context.Context, tenantID, name string, d time.Duration) (hub.Proxy, error) {
	ms := max(d.Milliseconds(), 0)
	var p hub.Proxy
	err := s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: set timeout of proxy %q", name), func(b *pgx.Batch) {
		b.Queue(`SELECT FROM tenants WHERE id = $1 FOR SHARE`, tenantID).Exec(ignoreTag)
		b.Queue(`UPDATE proxies
			    SET offline_after_ms = nullif($3::bigint, 0),
			        timeout_ms = proxyhub_timeout_ms($3, (SELECT offline_after_ms FROM tenants WHERE id = $1)),
			        deadline = last_seen + proxyhub_timeout_ms($3, (SELECT offline_after_ms FROM tenants WHERE id = $1)) * interval '1 millisecond',
			        check_at = last_seen + proxyhub_timeout_ms($3, (SELECT offline_after_ms FROM tenants WHERE id = $1)) * interval '1 millisecond'
			  WHERE tenant_id = $1 AND name = $2
			RETURNING `+proxyColumns, tenantID, name, ms).QueryRow(func(row pgx.Row) (err error) {
			p, err = scanProxy(row)
			return err
		})
	})
	return p, err
}
