package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// proxyKey names a proxy across tenants.
type proxyKey struct{ tenant, name string }

// batchTx is the state of one batch's transaction: the heartbeats'
// effects on the proxies, decided one after the other in arrival order
// against the committed state and the batch's own earlier heartbeats, and
// written as they are decided. Nothing of it reaches the in-memory state
// before COMMIT.
type batchTx struct {
	s       *Store
	ctx     context.Context
	tx      *sql.Tx
	st      *state
	items   []*pending
	outs    []outcome
	ev      eventWriter
	changes int64                    // the ip_changes sequence, advanced by the batch
	proxy   int64                    // the proxies sequence, advanced by the batch
	base    map[proxyKey]*proxyRec   // the batch's version of each proxy it wrote
	origin  map[*proxyRec]*proxyRec  // batch version → the state's record (none: created)
	created map[string]int           // tenant → proxies the batch created
	used    map[*hub.Token]time.Time // token → latest use the batch writes
	update  *sql.Stmt
	insert  *sql.Stmt
	change  *sql.Stmt
}

// writeBatch writes one batch and answers every heartbeat in it.
func (s *Store) writeBatch(batch []*pending) {
	const what = "sqlite: record heartbeat"
	live := make([]*pending, 0, len(batch))
	for _, p := range batch {
		if p.ctx.Err() != nil {
			p.done <- outcome{err: ctxError(p.ctx, what)}
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	s.wmu.Lock()
	b, err := s.runBatch(ctx, live)
	if err == nil {
		s.mu.Lock()
		b.apply()
		s.mu.Unlock()
	}
	s.wmu.Unlock()
	if err == nil {
		s.watchers.notify(b.ev.tenants)
	} else {
		err = s.writeError(ctx, err, what)
		s.log.Error("sqlite: heartbeat batch failed", "size", len(live), "error", err)
	}
	for i, p := range live {
		if err != nil {
			p.done <- outcome{err: err}
		} else {
			p.done <- b.outs[i]
		}
	}
}

// runBatch runs the batch's transaction; the batch holds each heartbeat's
// outcome and applies its effects to the state. An error means nothing
// was committed. The writer lock must be held.
func (s *Store) runBatch(ctx context.Context, items []*pending) (*batchTx, error) {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	b := &batchTx{
		s: s, ctx: ctx, tx: tx, st: s.st, items: items, outs: make([]outcome, len(items)),
		ev:      s.newEventWriter(ctx, tx),
		changes: s.st.seq.change, proxy: s.st.seq.proxy,
		base: map[proxyKey]*proxyRec{}, origin: map[*proxyRec]*proxyRec{},
		created: map[string]int{}, used: map[*hub.Token]time.Time{},
		update: tx.StmtContext(ctx, s.stmt.updateProxy), insert: tx.StmtContext(ctx, s.stmt.insertProxy),
		change: tx.StmtContext(ctx, s.stmt.insertChange),
	}
	for i, p := range items {
		// Last call: a heartbeat whose caller gave up while the batch
		// waited for the writer lock is not written.
		if p.ctx.Err() != nil {
			b.outs[i] = outcome{err: ctxError(p.ctx, "sqlite: record heartbeat")}
			continue
		}
		if err := b.beat(i); err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	if err := b.touchTokens(); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		s.reload("record heartbeat", err)
		return nil, err
	}
	return b, nil
}

// beat decides and writes heartbeat i. Refusals (unknown tenant, dead
// token, quota, not registered) settle its outcome and write nothing; an
// error is a failed statement, which fails the whole batch.
func (b *batchTx) beat(i int) error {
	hb := &b.items[i].hb
	t := b.st.tenants[hb.TenantID]
	if t == nil {
		b.outs[i] = outcome{err: fmt.Errorf("sqlite: tenant %q: %w", hb.TenantID, hub.ErrNotFound)}
		return nil
	}
	var tok *hub.Token
	if hb.TokenID != "" {
		if tok = t.tokenByID[hb.TokenID]; tok == nil || !tok.LiveAt(hb.At) {
			b.outs[i] = outcome{err: fmt.Errorf("sqlite: token %q: %w", hb.TokenID, hub.ErrTokenRevoked)}
			return nil
		}
	}
	key := proxyKey{hb.TenantID, hb.Name}
	p := b.base[key]
	if p == nil {
		if cur := t.proxies[hb.Name]; cur != nil {
			cp := *cur
			p = &cp
			b.base[key], b.origin[p] = p, cur
		}
	}
	at := hb.At.UnixNano()
	var res hub.HeartbeatResult
	switch {
	case p == nil && !hb.MayCreate:
		b.outs[i] = outcome{err: fmt.Errorf("sqlite: proxy %q: %w", hb.Name, hub.ErrNotRegistered)}
		return nil
	case p == nil && hb.MaxProxies > 0 && len(t.proxies)+b.created[hb.TenantID] >= hb.MaxProxies:
		b.outs[i] = outcome{err: fmt.Errorf("sqlite: proxy %q: the tenant has the %d proxies allowed: %w", hb.Name, hb.MaxProxies, hub.ErrQuotaExceeded)}
		return nil
	case p == nil:
		b.proxy++
		p = &proxyRec{id: b.proxy, name: hb.Name, ip: hb.IP, peer: hb.PeerIP, created: at, lastSeen: at}
		p.deadline = at + int64(t.timeout(p))
		if _, err := b.insert.ExecContext(b.ctx, p.id, hb.TenantID, p.name, p.ip.String(), addrText(p.peer), p.created, p.lastSeen, p.deadline); err != nil {
			return err
		}
		b.base[key] = p
		b.created[hb.TenantID]++
		res.Created = true
		if _, err := b.ev.add(b.ctx, hb.TenantID, hub.EventRegistered, hb.Name, hb.At, netip.Addr{}, hb.IP); err != nil {
			return err
		}
	default:
		if p.ip != hb.IP {
			b.changes++
			res.Changed, res.PreviousIP, res.ChangeID = true, p.ip, b.changes
			p.ipChanges++
			if _, err := b.change.ExecContext(b.ctx, b.changes, hb.TenantID, hb.Name, p.ip.String(), hb.IP.String(), at, hb.TokenID, hb.RequestID); err != nil {
				return err
			}
			if _, err := b.ev.add(b.ctx, hb.TenantID, hub.EventIPChanged, hb.Name, hb.At, p.ip, hb.IP); err != nil {
				return err
			}
		}
		p.ip, p.peer = hb.IP, hb.PeerIP
		p.lastSeen = max(p.lastSeen, at)
		if p.offline {
			p.offline, res.CameOnline = false, true
			if _, err := b.ev.add(b.ctx, hb.TenantID, hub.EventOnline, hb.Name, hb.At, netip.Addr{}, hb.IP); err != nil {
				return err
			}
		}
		p.deadline = p.lastSeen + int64(t.timeout(p))
		if _, err := b.update.ExecContext(b.ctx, p.ip.String(), addrText(p.peer), p.lastSeen, p.ipChanges, p.deadline, p.id); err != nil {
			return err
		}
	}
	if tok != nil && hb.At.After(b.used[tok]) {
		b.used[tok] = hb.At
	}
	res.Proxy = p.view(hb.TenantID)
	b.outs[i] = outcome{res: res}
	return nil
}

// touchTokens moves the last use of the tokens the batch's heartbeats
// used, for each token at most once per hub.TokenTouchInterval.
func (b *batchTx) touchTokens() error {
	for tok, at := range b.used {
		if !tok.LastUsedAt.IsZero() && at.Sub(tok.LastUsedAt) < hub.TokenTouchInterval {
			delete(b.used, tok)
			continue
		}
		if _, err := b.tx.StmtContext(b.ctx, b.s.stmt.touchToken).ExecContext(b.ctx, at.UnixNano(), tok.TenantID, tok.ID); err != nil {
			return err
		}
	}
	return nil
}

// apply changes the state to what the batch committed. The state must be
// locked.
func (b *batchTx) apply() {
	st := b.st
	for key, p := range b.base {
		t := st.tenants[key.tenant]
		cur := b.origin[p]
		if cur == nil { // created by the batch
			t.proxies[p.name] = p
			st.queue(t, p)
			continue
		}
		cur.ip, cur.peer, cur.lastSeen, cur.ipChanges, cur.offline, cur.deadline = p.ip, p.peer, p.lastSeen, p.ipChanges, p.offline, p.deadline
		st.queue(t, cur)
	}
	for tok, at := range b.used {
		tok.LastUsedAt = at
	}
	st.seq.proxy, st.seq.change = b.proxy, b.changes
	b.ev.apply(st)
}
