package sqlite

import (
	"context"
	"database/sql"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// eventWriter appends events within one write transaction, handing out
// their ids from the state's sequence (the writer is alone, so ids follow
// commit order), and remembers which tenants got events.
type eventWriter struct {
	stmt    *sql.Stmt // insertEvent, bound to the transaction
	next    int64     // the last id handed out
	tenants []string  // tenants with new events, each once
}

// newEventWriter returns an event writer for tx. The writer lock must be
// held.
func (s *Store) newEventWriter(ctx context.Context, tx *sql.Tx) eventWriter {
	return eventWriter{stmt: tx.StmtContext(ctx, s.stmt.insertEvent), next: s.st.seq.event}
}

// add appends one event and returns it.
func (w *eventWriter) add(ctx context.Context, tenant string, typ hub.EventType, proxy string, at time.Time, oldIP, newIP netip.Addr) (hub.Event, error) {
	w.next++
	e := hub.Event{ID: w.next, TenantID: tenant, Type: typ, Proxy: proxy, At: at, OldIP: oldIP, NewIP: newIP}
	if _, err := w.stmt.ExecContext(ctx, e.ID, tenant, string(typ), proxy, at.UnixNano(), addrText(oldIP), addrText(newIP)); err != nil {
		return e, err
	}
	if !slices.Contains(w.tenants, tenant) {
		w.tenants = append(w.tenants, tenant)
	}
	return e, nil
}

// apply moves the state's event sequence past the events written. The
// state must be locked.
func (w *eventWriter) apply(st *state) { st.seq.event = w.next }

// ScanEvents implements hub.LivenessStore.
func (s *Store) ScanEvents(ctx context.Context, tenantID string, q hub.EventQuery, fn func(hub.Event) error) error {
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return err
	}
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if len(q.Types) > 0 {
		where = append(where, "type IN ("+strings.Repeat("?, ", len(q.Types)-1)+"?)")
		for _, t := range q.Types {
			args = append(args, string(t))
		}
	}
	if q.Proxy != "" {
		where, args = append(where, "proxy = ?"), append(args, q.Proxy)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, q.Until.UnixNano())
	}
	if q.AfterID > 0 {
		where, args = append(where, "id > ?"), append(args, q.AfterID)
	}
	if q.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, q.BeforeID)
	}
	return scanPages(ctx, s, page{
		sql:       `SELECT id, tenant_id, type, proxy, at, old_ip, new_ip FROM events WHERE ` + strings.Join(where, " AND "),
		args:      args,
		ascending: q.Ascending,
		limit:     q.Limit,
	}, scanEvent, fn, func(e hub.Event) int64 { return e.ID })
}

func scanEvent(rows *sql.Rows) (hub.Event, error) {
	var e hub.Event
	var typ string
	var at int64
	var oldIP, newIP sql.NullString
	if err := rows.Scan(&e.ID, &e.TenantID, &typ, &e.Proxy, &at, &oldIP, &newIP); err != nil {
		return e, err
	}
	e.Type, e.At = hub.EventType(typ), fromNanos(at)
	var err error
	if e.OldIP, err = parseAddr(oldIP); err != nil {
		return e, err
	}
	e.NewIP, err = parseAddr(newIP)
	return e, err
}

// watchers are the callbacks of WatchEvents.
type watchers struct {
	mu     sync.Mutex
	fns    map[int]func(tenantID string)
	seq    int
	closed chan struct{} // closed by closeAll
}

// add registers fn and returns its id and a channel closed when the store
// closes.
func (w *watchers) add(fn func(string)) (int, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fns == nil {
		w.fns = map[int]func(string){}
	}
	if w.closed == nil {
		w.closed = make(chan struct{})
	}
	w.seq++
	w.fns[w.seq] = fn
	return w.seq, w.closed
}

func (w *watchers) remove(id int) {
	w.mu.Lock()
	delete(w.fns, id)
	w.mu.Unlock()
}

// notify tells every watcher about each tenant.
func (w *watchers) notify(tenants []string) {
	if len(tenants) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fn := range w.fns {
		for _, t := range tenants {
			fn(t)
		}
	}
}

// closeAll ends every watch.
func (w *watchers) closeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed == nil {
		w.closed = make(chan struct{})
	}
	select {
	case <-w.closed:
	default:
		close(w.closed)
	}
}

// WatchEvents implements hub.LivenessStore: fn learns of every tenant
// whose events this store appended, until ctx ends or the store closes.
func (s *Store) WatchEvents(ctx context.Context, fn func(tenantID string)) error {
	id, closed := s.watchers.add(fn)
	defer s.watchers.remove(id)
	select {
	case <-ctx.Done():
	case <-closed:
	}
	return nil
}
