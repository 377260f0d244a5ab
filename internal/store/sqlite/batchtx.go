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
// effects, decided one after the other in arrival order against the
// committed state and the batch's own earlier heartbeats. History rows
// (IP changes, events) are written as they are decided; at the end, the
// rows of the proxies the batch created, changed the IP of or brought
// back online are written whole, and the other heartbeats go into one
// heartbeat log row. Nothing of it reaches the in-memory state before
// COMMIT. The transaction begins with the batch's first write other than
// the log row: a batch of steady-state heartbeats only (the common case)
// is the one INSERT of its log row, which SQLite commits as its own
// transaction. The writer keeps one batchTx and reuses its buffers from
// batch to batch.
type batchTx struct {
	s     *Store
	ctx   context.Context
	tx    *sql.Tx // nil until the batch's first write other than its log row
	st    *state
	items []*pending
	outs  []outcome
	ev    eventWriter
	seq   int64 // the batch's heartbeat log position
	// changes and proxies are the ip_changes and proxies sequences,
	// advanced by the batch.
	changes, proxies int64
	touched          []touchedProxy           // the proxies the batch touched, in first-touch order
	index            map[proxyKey]int         // their positions in touched
	created          map[string]int           // tenant → proxies the batch created
	used             map[*hub.Token]time.Time // token → latest use the batch writes
	log              []steady                 // the steady-state heartbeats, in order
	logBuf           []byte
	logged           bool // a heartbeat log row was written
	// deferred: the batch holds only steady-state heartbeats, answered
	// once applied; their log entries went to Store.steadyLog.
	deferred bool
	// steady is how much of Store.steadyLog the batch's log row carries.
	steady int
}

// touchedProxy is the batch's version of one proxy.
type touchedProxy struct {
	v      proxyRec
	origin *proxyRec // the state's record; nil: created by the batch
	tenant string
	whole  bool // its row is written whole
}

// steady is a heartbeat that may go into the log: its entry and its
// proxy's position in touched.
type steady struct {
	proxy int
	e     logEntry
}

// reset readies b for a new batch.
func (b *batchTx) reset(ctx context.Context, items []*pending) {
	s := b.s
	b.ctx, b.tx, b.st, b.items = ctx, nil, s.st, items
	b.outs = append(b.outs[:0], make([]outcome, len(items))...)
	b.ev = eventWriter{}
	b.seq, b.changes, b.proxies = s.st.seq.batch+1, s.st.seq.change, s.st.seq.proxy
	b.touched, b.log, b.logBuf, b.logged = b.touched[:0], b.log[:0], b.logBuf[:0], false
	b.deferred, b.steady = false, 0
	if b.index == nil {
		b.index, b.created, b.used = map[proxyKey]int{}, map[string]int{}, map[*hub.Token]time.Time{}
	}
	clear(b.index)
	clear(b.created)
	clear(b.used)
}

// begin begins the batch's transaction unless it has begun.
func (b *batchTx) begin() (*sql.Tx, error) {
	if b.tx != nil {
		return b.tx, nil
	}
	tx, err := b.s.wdb.BeginTx(b.ctx, nil)
	if err != nil {
		return nil, err
	}
	b.tx, b.ev = tx, b.s.newEventWriter(b.ctx, tx)
	return tx, nil
}

// event appends one event in the batch's transaction.
func (b *batchTx) event(tenant string, typ hub.EventType, proxy string, at time.Time, oldIP, newIP netip.Addr) error {
	if _, err := b.begin(); err != nil {
		return err
	}
	_, err := b.ev.add(b.ctx, tenant, typ, proxy, at, oldIP, newIP)
	return err
}

// release drops the references of the batch just written, so that the
// kept buffers do not keep callers' data alive.
func (b *batchTx) release() {
	clear(b.items)
	clear(b.outs)
	clear(b.touched)
	b.ctx, b.tx, b.items, b.ev = nil, nil, nil, eventWriter{}
}

// writeBatch writes one batch and answers every heartbeat in it.
func (s *Store) writeBatch(batch []*pending) {
	const what = "sqlite: record heartbeat"
	live := batch[:0]
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
	b := &s.batch
	s.wmu.Lock()
	err := s.runBatch(ctx, b, live)
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
	// After its answer a caller may reuse its pending: nothing touches one
	// after sending on its done.
	for i, p := range live {
		if err != nil {
			p.done <- outcome{err: err}
		} else {
			p.done <- b.outs[i]
		}
	}
	b.release()
}

// runBatch writes the batch; b then holds each heartbeat's outcome and
// applies its effects to the state. An error means nothing was committed
// (or, when the COMMIT itself failed, that the state was read again from
// what the database kept). The writer lock must be held.
func (s *Store) runBatch(ctx context.Context, b *batchTx, items []*pending) error {
	b.reset(ctx, items)
	err := b.run()
	switch {
	case b.deferred:
		return nil
	case b.tx == nil:
		// At most the log row, committed on its own.
		if err != nil {
			s.reload("record heartbeat", err)
			return err
		}
	case err != nil:
		_ = b.tx.Rollback()
		return err
	default:
		if err := b.tx.Commit(); err != nil {
			s.reload("record heartbeat", err)
			return err
		}
	}
	// The log row carried the steady-state heartbeats answered before.
	s.steadyLog = s.steadyLog[:copy(s.steadyLog, s.steadyLog[b.steady:])]
	return nil
}

// run decides every heartbeat, then writes the rows and the log.
func (b *batchTx) run() error {
	for i, p := range b.items {
		// Last call: a heartbeat whose caller gave up while the batch
		// waited for the writer lock is not written; the others are
		// taken, and their callers wait for the outcome.
		if !p.claim.Take() {
			b.outs[i] = outcome{err: ctxError(p.ctx, "sqlite: record heartbeat")}
			continue
		}
		if err := b.beat(i); err != nil {
			return err
		}
	}
	if b.deferrable() {
		s := b.s
		if len(s.steadyLog) == 0 {
			s.steadySince = time.Now()
		}
		for _, h := range b.log {
			s.steadyLog = appendEntry(s.steadyLog, h.e)
		}
		b.deferred = true
		return nil
	}
	// The steady-state heartbeats answered before this batch go first:
	// the log row carries them in order.
	b.logBuf, b.steady = append(b.logBuf, b.s.steadyLog...), len(b.s.steadyLog)
	for _, h := range b.log {
		if !b.touched[h.proxy].whole {
			b.logBuf = appendEntry(b.logBuf, h.e)
		}
	}
	var write, insert *sql.Stmt
	for i := range b.touched {
		t := &b.touched[i]
		p := &t.v
		if !t.whole {
			continue
		}
		tx, err := b.begin()
		if err != nil {
			return err
		}
		switch {
		case t.origin == nil:
			if insert == nil {
				insert = tx.StmtContext(b.ctx, b.s.stmt.insertProxy)
			}
			args := proxyRowArgs(p, b.seq)
			if _, err := insert.ExecContext(b.ctx, p.id, t.tenant, p.name, args[0], args[1], p.created, p.lastSeen, p.ipChanges,
				args[4], args[5], args[6], p.deadline, b.seq); err != nil {
				return err
			}
		default:
			if write == nil {
				write = tx.StmtContext(b.ctx, b.s.stmt.writeProxy)
			}
			if _, err := write.ExecContext(b.ctx, proxyRowArgs(p, b.seq)...); err != nil {
				return err
			}
		}
	}
	if err := b.touchTokens(); err != nil {
		return err
	}
	if len(b.logBuf) == 0 {
		return nil
	}
	// The last statement: without a transaction it commits on its own.
	logRow := b.s.stmt.insertLog
	if b.tx != nil {
		logRow = b.tx.StmtContext(b.ctx, logRow)
	}
	if _, err := logRow.ExecContext(b.ctx, b.seq, b.logBuf); err != nil {
		return err
	}
	b.logged = true
	return nil
}

// deferrable reports whether the batch, decided, may be answered before
// it is written: deferral is on (Options.LogFlush), nothing of it needs
// more than the heartbeat log (no row written whole, no history, no
// event, no token's last use to move) and the unwritten log has room.
func (b *batchTx) deferrable() bool {
	if b.s.opts.LogFlush <= 0 || b.tx != nil || len(b.s.steadyLog) >= maxSteadyLog {
		return false
	}
	for i := range b.touched {
		if b.touched[i].whole {
			return false
		}
	}
	for tok, at := range b.used {
		if !tokenUseRecorded(tok, at) {
			return false
		}
	}
	return true
}

// beat decides heartbeat i and writes its history. Refusals (unknown
// tenant, dead token, quota, not registered) settle its outcome and write
// nothing; an error is a failed statement, which fails the whole batch.
func (b *batchTx) beat(i int) error {
	hb := &b.items[i].hb
	t := b.st.tenants[hb.TenantID]
	if t == nil {
		b.outs[i] = outcome{err: tenantNotFound(hb.TenantID)}
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
	j, ok := b.index[key]
	if !ok {
		if cur := t.proxies[hb.Name]; cur != nil {
			j, ok = len(b.touched), true
			b.touched = append(b.touched, touchedProxy{v: *cur, origin: cur, tenant: hb.TenantID})
			b.index[key] = j
		}
	}
	at := hb.At.UnixNano()
	var res hub.HeartbeatResult
	switch {
	case !ok && !hb.MayCreate:
		b.outs[i] = outcome{err: fmt.Errorf("sqlite: proxy %q: %w", hb.Name, hub.ErrNotRegistered)}
		return nil
	case !ok && hb.MaxProxies > 0 && len(t.proxies)+b.created[hb.TenantID] >= hb.MaxProxies:
		b.outs[i] = outcome{err: fmt.Errorf("sqlite: proxy %q: the tenant has the %d proxies allowed: %w", hb.Name, hb.MaxProxies, hub.ErrQuotaExceeded)}
		return nil
	case !ok:
		b.proxies++
		p := proxyRec{id: b.proxies, name: hb.Name, ip: hb.IP, peer: hb.PeerIP, created: at, lastSeen: at}
		p.deadline = at + int64(t.timeout(&p))
		j = len(b.touched)
		b.touched = append(b.touched, touchedProxy{v: p, tenant: hb.TenantID, whole: true})
		b.index[key] = j
		b.created[hb.TenantID]++
		res.Created = true
		if err := b.event(hb.TenantID, hub.EventRegistered, hb.Name, hb.At, netip.Addr{}, hb.IP); err != nil {
			return err
		}
	default:
		tp := &b.touched[j]
		p := &tp.v
		if p.ip != hb.IP {
			b.changes++
			res.Changed, res.PreviousIP, res.ChangeID = true, p.ip, b.changes
			p.ipChanges++
			tp.whole = true
			tx, err := b.begin()
			if err != nil {
				return err
			}
			if _, err := tx.StmtContext(b.ctx, b.s.stmt.insertChange).ExecContext(b.ctx,
				b.changes, hb.TenantID, hb.Name, p.ip.String(), hb.IP.String(), at, hb.TokenID, hb.RequestID); err != nil {
				return err
			}
			if err := b.event(hb.TenantID, hub.EventIPChanged, hb.Name, hb.At, p.ip, hb.IP); err != nil {
				return err
			}
		}
		if p.offline {
			p.offline, res.CameOnline = false, true
			tp.whole = true
			if err := b.event(hb.TenantID, hub.EventOnline, hb.Name, hb.At, netip.Addr{}, hb.IP); err != nil {
				return err
			}
		}
		moveSteady(p, t, hb)
		b.log = append(b.log, steady{proxy: j, e: logEntry{proxy: p.id, at: at, peer: hb.PeerIP}})
	}
	if tok != nil && hb.At.After(b.used[tok]) {
		b.used[tok] = hb.At
	}
	res.Proxy = b.touched[j].v.view(hb.TenantID)
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
		tx, err := b.begin()
		if err != nil {
			return err
		}
		if _, err := tx.StmtContext(b.ctx, b.s.stmt.touchToken).ExecContext(b.ctx, at.UnixNano(), tok.TenantID, tok.ID); err != nil {
			return err
		}
	}
	return nil
}

// apply changes the state to what the batch committed. The state must be
// locked.
func (b *batchTx) apply() {
	st := b.st
	for i := range b.touched {
		tp := &b.touched[i]
		t := st.tenants[tp.tenant]
		cur := tp.origin
		if cur == nil { // created by the batch
			p := new(proxyRec)
			*p = tp.v
			t.proxies[p.name] = p
			st.queue(t, p)
			continue
		}
		p := &tp.v
		cur.ip, cur.peer, cur.lastSeen, cur.ipChanges, cur.offline, cur.deadline = p.ip, p.peer, p.lastSeen, p.ipChanges, p.offline, p.deadline
		if tp.whole {
			delete(st.dirty, cur)
		} else {
			st.dirty[cur] = struct{}{}
		}
		st.queue(t, cur)
	}
	for tok, at := range b.used {
		tok.LastUsedAt = at
	}
	st.seq.proxy, st.seq.change = b.proxies, b.changes
	if !b.deferred {
		st.seq.batch = b.seq
	}
	if b.logged {
		st.logRows++
	}
	if b.tx != nil {
		b.ev.apply(st)
	}
}
