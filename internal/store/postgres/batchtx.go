package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// batchTx is the state of one batch's transaction.
type batchTx struct {
	conn   *pgx.Conn
	items  []*pending
	outs   []outcome
	skip   []bool                          // not to be written (caller gone)
	begun  bool                            // BEGIN has been queued
	used   map[string]map[string]time.Time // tenant → token → latest use
	tokens *tokenCache                     // forgets the tokens found revoked
	// lockTimeout bounds each lock wait (Options.LockTimeout).
	lockTimeout time.Duration
	events      map[string][]newEvent // tenant → events to append at commit, in order
	// committing is set once the pipeline holding COMMIT is sent: a
	// failure after it may or may not have committed.
	committing bool
}

// writeBatch writes items in one transaction and returns each one's
// outcome; an error means nothing was committed (or, when the connection
// broke after COMMIT was sent, sentCommit, that this is unknown).
func (s *Store) writeBatch(ctx context.Context, items []*pending) (outs []outcome, sentCommit bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	// Release closes a connection left inside a transaction, which rolls
	// it back; rollback below first tries to keep the connection.
	defer conn.Release()
	tx := &batchTx{conn: conn.Conn(), items: items, outs: make([]outcome, len(items)), tokens: s.tokens, lockTimeout: s.opts.LockTimeout,
		used: map[string]map[string]time.Time{}, events: map[string][]newEvent{}}
	// Last call: a heartbeat whose caller gave up while the batch waited
	// for a connection is not written; the others are taken, and their
	// callers wait for the outcome.
	tx.skip = make([]bool, len(items))
	for i, p := range items {
		if !p.claim.Take() {
			tx.outs[i], tx.skip[i] = outcome{err: ctxError(p.ctx, "postgres: record heartbeat")}, true
		}
	}
	if err := tx.run(ctx); err != nil {
		tx.rollback()
		return nil, tx.committing, err
	}
	return tx.outs, true, nil
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
			tx.items[i].hb.Name, hub.ErrUnavailable)}
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
		if tx.skip[i] {
			continue
		}
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
		b.Queue(plannerSQL).Exec(ignoreTag)
		b.Queue(lockTimeoutSQL, strconv.FormatInt(tx.lockTimeout.Milliseconds(), 10)+"ms").Exec(ignoreTag)
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
			results := make([]*hub.HeartbeatResult, n) // by position in group; nil: no such proxy
			changes := map[string]int64{}              // proxy → change id
			tenantExists := false
			refused := make([]bool, n) // by position in group: the token is no longer live
			for rows.Next() {
				var kind string
				var ord pgtype.Int8
				var old netip.Addr
				var oldState pgtype.Text
				var created, seen, deadline pgtype.Timestamptz
				var ipChanges, changeID, override pgtype.Int8
				var paused pgtype.Bool
				var proxy pgtype.Text
				if err := rows.Scan(&kind, &ord, &old, &oldState, &created, &seen, &ipChanges, &paused, &override, &deadline, &changeID, &proxy); err != nil {
					return err
				}
				switch kind {
				case "updated":
					results[ord.Int64-1] = &hub.HeartbeatResult{
						PreviousIP: old,
						CameOnline: oldState.String == hub.StateOffline,
						Proxy: hub.Proxy{
							CreatedAt: fromTimestamptz(created), LastSeen: fromTimestamptz(seen), IPChanges: ipChanges.Int64,
							State: hub.StateOnline, Paused: paused.Bool, OfflineAfter: fromMillis(override), Deadline: fromTimestamptz(deadline),
						},
					}
				case "changed":
					changes[proxy.String] = changeID.Int64
				case "tenant":
					tenantExists = true
				case "refused":
					refused[ord.Int64-1] = true
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			for j, i := range group {
				hb := &tx.items[i].hb
				res := results[j]
				switch {
				case refused[j] && tenantExists:
					tx.tokens.drop(hb.TenantID, hb.TokenID)
					tx.outs[i] = outcome{err: fmt.Errorf("postgres: token %q: %w", hb.TokenID, hub.ErrTokenRevoked)}
				case res != nil:
					res.Proxy.TenantID, res.Proxy.Name, res.Proxy.IP, res.Proxy.PeerIP = hb.TenantID, hb.Name, hb.IP, hb.PeerIP
					if id, ok := changes[hb.Name]; ok {
						res.Changed, res.ChangeID = true, id
						tx.event(hb, hub.EventIPChanged, res.PreviousIP)
					} else {
						res.PreviousIP = netip.Addr{}
					}
					if res.CameOnline {
						tx.event(hb, hub.EventOnline, netip.Addr{})
					}
					tx.settle(i, *res)
				case !tenantExists:
					tx.outs[i] = outcome{err: fmt.Errorf("postgres: tenant %q: %w", hb.TenantID, hub.ErrNotFound)}
				case !hb.MayCreate:
					tx.outs[i] = outcome{err: fmt.Errorf("postgres: proxy %q: %w", hb.Name, hub.ErrNotRegistered)}
				default:
					missing = append(missing, i)
				}
			}
			return nil
		})
	})
	return missing, tx.conn.SendBatch(ctx, b).Close()
}

// event records an event that heartbeat hb made, to be appended at commit.
func (tx *batchTx) event(hb *hub.Heartbeat, typ hub.EventType, oldIP netip.Addr) {
	tx.events[hb.TenantID] = append(tx.events[hb.TenantID], newEvent{typ: typ, proxy: hb.Name, at: hb.At, oldIP: oldIP, newIP: hb.IP})
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
				created := map[string]hub.Proxy{}
				for rows.Next() {
					var kind string
					var ord pgtype.Int8
					var count pgtype.Int4
					var createdAt, seen, deadline pgtype.Timestamptz
					var name pgtype.Text
					if err := rows.Scan(&kind, &ord, &count, &createdAt, &seen, &deadline, &name); err != nil {
						return err
					}
					switch kind {
					case "tenant":
						tenantExists = true
					case "found":
						found[ord.Int64-1] = true
					case "created":
						created[name.String] = hub.Proxy{CreatedAt: fromTimestamptz(createdAt), LastSeen: fromTimestamptz(seen),
							State: hub.StateOnline, Deadline: fromTimestamptz(deadline)}
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
						tx.event(hb, hub.EventRegistered, netip.Addr{})
						tx.settle(i, hub.HeartbeatResult{Created: true, Proxy: p})
					case !tenantExists:
						tx.outs[i] = outcome{err: fmt.Errorf("postgres: tenant %q: %w", hb.TenantID, hub.ErrNotFound)}
					case !found[j] && limit > 0:
						tx.outs[i] = outcome{err: fmt.Errorf("postgres: proxy %q: the tenant has the %d proxies allowed: %w",
							hb.Name, limit, hub.ErrQuotaExceeded)}
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
func (tx *batchTx) settle(i int, res hub.HeartbeatResult) {
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

// commit appends the events the batch made, touches the tokens the
// written heartbeats used and commits, in one pipeline.
func (tx *batchTx) commit(ctx context.Context) error {
	b := tx.newBatch()
	queueAppendEvents(b, tx.events)
	for _, tenant := range slices.Sorted(maps.Keys(tx.used)) {
		used := tx.used[tenant]
		ids := slices.Sorted(maps.Keys(used))
		ats := make([]time.Time, len(ids))
		for j, id := range ids {
			ats[j] = used[id]
		}
		tenantScope(tenant).queue(b)
		b.Queue(touchSQL, tenant, ids, ats, hub.TokenTouchInterval).Exec(ignoreTag)
	}
	tx.committing = true
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
