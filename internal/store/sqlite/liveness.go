package sqlite

import (
	"container/heap"
	"context"
	"database/sql"
	"net/netip"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// ExpireProxies implements hub.LivenessStore. The due proxies come from
// the deadline heap in memory; their flips and offline events are written
// in one transaction.
func (s *Store) ExpireProxies(ctx context.Context, now time.Time, limit int) ([]hub.Event, error) {
	const what = "sqlite: expire proxies"
	var out []hub.Event
	var tenants []string
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		due, requeue := s.dueProxies(now.UnixNano(), limit)
		restore := func() {
			s.mu.Lock()
			for _, e := range append(due, requeue...) {
				heap.Push(&s.st.deadlines, e)
			}
			s.mu.Unlock()
		}
		ev := s.newEventWriter(ctx, tx)
		for _, e := range due {
			flipped := *e.p
			flipped.offline = true
			if err := s.writeRow(ctx, tx, &flipped); err != nil {
				restore()
				return nil, translate(err, what)
			}
			evt, err := ev.add(ctx, e.t.rec.ID, hub.EventOffline, e.p.name, fromNanos(e.p.deadline), netip.Addr{}, e.p.ip)
			if err != nil {
				restore()
				return nil, translate(err, what)
			}
			out = append(out, evt)
		}
		tenants = ev.tenants
		return func() {
			for _, e := range due {
				e.p.offline, e.p.queued = true, 0
				delete(s.st.dirty, e.p)
			}
			for _, e := range requeue {
				e.p.queued = 0
				s.st.queue(e.t, e.p)
			}
			ev.apply(s.st)
		}, nil
	})
	if err != nil {
		return nil, err
	}
	s.watchers.notify(tenants)
	return out, nil
}

// dueProxies pops the heap's entries due before now: those whose proxy is
// to go offline (at most limit of them, limit <= 0: all), and those whose
// proxy's deadline moved on (to be queued again at the new deadline).
// Stale entries are dropped. The writer lock must be held; dueProxies
// takes the state's lock itself.
func (s *Store) dueProxies(now int64, limit int) (due, requeue []heapEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &s.st.deadlines
	for h.Len() > 0 && (*h)[0].at < now && (limit <= 0 || len(due) < limit) {
		e := heap.Pop(h).(heapEntry)
		p := e.p
		switch {
		case p.deleted || p.queued != e.at || p.offline || p.paused:
			if p.queued == e.at {
				p.queued = 0
			}
		case p.deadline >= now:
			requeue = append(requeue, e)
		default:
			due = append(due, e)
		}
	}
	return due, requeue
}

// NextDeadline implements hub.LivenessStore. It is the earliest heap
// entry, which may be stale: never later than the true next deadline.
func (s *Store) NextDeadline(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.st.deadlines) == 0 {
		return time.Time{}, nil
	}
	return fromNanos(s.st.deadlines[0].at), nil
}

// SetPaused implements hub.LivenessStore.
func (s *Store) SetPaused(ctx context.Context, tenantID, name string, paused bool, at time.Time) (hub.Proxy, error) {
	const what = "sqlite: pause proxy"
	var out hub.Proxy
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		p, t, err := s.proxy(tenantID, name)
		if err != nil {
			return nil, err
		}
		next := *p
		if p.paused != paused {
			next.paused = paused
			if !paused {
				next.deadline = max(p.lastSeen, at.UnixNano()) + int64(t.timeout(p))
			}
			if err := s.writeRow(ctx, tx, &next); err != nil {
				return nil, translate(err, what)
			}
		}
		out = next.view(tenantID)
		return func() {
			if p.paused != paused {
				p.paused, p.deadline = next.paused, next.deadline
				delete(s.st.dirty, p)
			}
			s.st.queue(t, p)
		}, nil
	})
	return out, err
}

// SetOfflineAfter implements hub.LivenessStore.
func (s *Store) SetOfflineAfter(ctx context.Context, tenantID, name string, d time.Duration) (hub.Proxy, error) {
	const what = "sqlite: set proxy timeout"
	var out hub.Proxy
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		p, t, err := s.proxy(tenantID, name)
		if err != nil {
			return nil, err
		}
		next := *p
		next.offlineAfter = d
		next.deadline = p.lastSeen + int64(t.timeout(&next))
		if err := s.writeRow(ctx, tx, &next); err != nil {
			return nil, translate(err, what)
		}
		out = next.view(tenantID)
		return func() {
			p.offlineAfter, p.deadline = next.offlineAfter, next.deadline
			delete(s.st.dirty, p)
			s.st.queue(t, p)
		}, nil
	})
	return out, err
}

// Leader implements hub.LivenessStore: the store holds its database's lock,
// so it is the only one and always leads.
func (s *Store) Leader(ctx context.Context, _ string) (bool, error) {
	if s.isClosed() {
		return false, errClosed
	}
	return true, ctx.Err()
}
