package memory

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// timeout is the proxy's effective offline timeout. t.mu must be held.
func (t *tenant) timeout(p *proxyRec) time.Duration {
	switch {
	case p.offlineAfter > 0:
		return p.offlineAfter
	case t.rec.OfflineAfter > 0:
		return t.rec.OfflineAfter
	}
	return hub.DefaultOfflineAfter
}

// heapEntry says: at `at` (Unix ns), look at this proxy of tenant t.
type heapEntry struct {
	at int64
	p  *proxyRec
	t  *tenant
}

// deadlineHeap is a min-heap of entries by time: each online, unpaused
// proxy has one live entry, so a sweep pops only what is due.
type deadlineHeap []heapEntry

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(heapEntry)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = heapEntry{}
	*h = old[:len(old)-1]
	return e
}

// setDeadline sets p's deadline and makes sure a heap entry will look at it
// no later than that. Entries are only added when the deadline moves
// earlier than the live entry (or there is none); a later deadline is
// noticed when the earlier entry comes due. t.mu must be held.
func (s *Store) setDeadline(t *tenant, p *proxyRec, d int64) {
	p.deadline = d
	if p.offline() || p.paused() {
		return
	}
	if p.queued == 0 || d < p.queued {
		p.queued = d
		s.hmu.Lock()
		heap.Push(&s.deadlines, heapEntry{at: d, p: p, t: t})
		s.hmu.Unlock()
	}
}

// appendEvent adds an event to t's stream and wakes the watchers. t.mu
// must be held.
func (s *Store) appendEvent(t *tenant, e hub.Event) hub.Event {
	e.ID = s.nextID.Add(1)
	e.TenantID = t.rec.ID
	t.events.add(e)
	s.notify(t.rec.ID)
	return e
}

// ExpireProxies implements hub.LivenessStore.
func (s *Store) ExpireProxies(ctx context.Context, now time.Time, limit int) ([]hub.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []hub.Event
	nowNS := now.UnixNano()
	for limit <= 0 || len(out) < limit {
		s.hmu.Lock()
		if len(s.deadlines) == 0 || s.deadlines[0].at >= nowNS {
			s.hmu.Unlock()
			break
		}
		e := heap.Pop(&s.deadlines).(heapEntry)
		s.hmu.Unlock()
		if ev, ok := s.expire(e, nowNS); ok {
			out = append(out, ev)
		}
	}
	slices.SortFunc(out, func(a, b hub.Event) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// expire handles one due heap entry: flips the proxy, re-queues it when
// its deadline moved on, or drops a stale entry.
func (s *Store) expire(e heapEntry, now int64) (hub.Event, bool) {
	t, p := e.t, e.p
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.flags&flagDeleted != 0 || p.queued != e.at {
		return hub.Event{}, false // deleted, or a newer entry covers it
	}
	p.queued = 0
	if p.offline() || p.paused() {
		return hub.Event{}, false
	}
	if p.deadline >= now {
		s.setDeadline(t, p, p.deadline) // heartbeats moved it on: look again then
		return hub.Event{}, false
	}
	p.set(flagOffline, true)
	return s.appendEvent(t, hub.Event{Type: hub.EventOffline, Proxy: p.name, At: fromNanos(p.deadline), NewIP: p.ip}), true
}

// NextDeadline implements hub.LivenessStore. It is the earliest heap
// entry, which may be stale: never later than the true next deadline.
func (s *Store) NextDeadline(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if len(s.deadlines) == 0 {
		return time.Time{}, nil
	}
	return fromNanos(s.deadlines[0].at), nil
}

// SetPaused implements hub.LivenessStore.
func (s *Store) SetPaused(ctx context.Context, tenantID, name string, paused bool, at time.Time) (hub.Proxy, error) {
	return s.withProxy(ctx, tenantID, name, func(t *tenant, p *proxyRec) {
		if p.paused() == paused {
			return
		}
		p.set(flagPaused, paused)
		if !paused {
			s.setDeadline(t, p, max(p.lastSeen, at.UnixNano())+int64(t.timeout(p)))
		}
	})
}

// SetOfflineAfter implements hub.LivenessStore.
func (s *Store) SetOfflineAfter(ctx context.Context, tenantID, name string, d time.Duration) (hub.Proxy, error) {
	return s.withProxy(ctx, tenantID, name, func(t *tenant, p *proxyRec) {
		p.offlineAfter = d
		s.setDeadline(t, p, p.lastSeen+int64(t.timeout(p)))
	})
}

func (s *Store) withProxy(ctx context.Context, tenantID, name string, fn func(*tenant, *proxyRec)) (hub.Proxy, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return hub.Proxy{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.proxies[name]
	if !ok {
		return hub.Proxy{}, fmt.Errorf("proxy %q: %w", name, hub.ErrNotFound)
	}
	fn(t, p)
	return p.view(tenantID), nil
}

// ScanEvents implements hub.LivenessStore.
func (s *Store) ScanEvents(ctx context.Context, tenantID string, q hub.EventQuery, fn func(hub.Event) error) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	match := func(e hub.Event) bool {
		return (len(q.Types) == 0 || slices.Contains(q.Types, e.Type)) &&
			(q.Proxy == "" || e.Proxy == q.Proxy) &&
			(q.Since.IsZero() || !e.At.Before(q.Since)) &&
			(q.Until.IsZero() || e.At.Before(q.Until)) &&
			(q.AfterID == 0 || e.ID > q.AfterID) &&
			(q.BeforeID == 0 || e.ID < q.BeforeID)
	}
	var sel []hub.Event
	t.mu.RLock()
	n := len(t.events.items)
	for i := range n {
		idx := n - 1 - i
		if q.Ascending {
			idx = i
		}
		if e := t.events.items[idx]; match(e) {
			sel = append(sel, e)
			if q.Limit > 0 && len(sel) == q.Limit {
				break
			}
		}
	}
	t.mu.RUnlock()
	return each(ctx, sel, fn)
}

// Leader implements hub.LivenessStore: one process, always the leader.
func (s *Store) Leader(ctx context.Context, _ string) (bool, error) { return true, ctx.Err() }

// WatchEvents implements hub.LivenessStore.
func (s *Store) WatchEvents(ctx context.Context, fn func(tenantID string)) error {
	s.wmu.Lock()
	if s.watchers == nil {
		s.watchers = map[int]func(string){}
	}
	s.watchSeq++
	id := s.watchSeq
	s.watchers[id] = fn
	s.wmu.Unlock()
	<-ctx.Done()
	s.wmu.Lock()
	delete(s.watchers, id)
	s.wmu.Unlock()
	return nil
}

// notify tells every watcher that tenantID has new events.
func (s *Store) notify(tenantID string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for _, fn := range s.watchers {
		fn(tenantID)
	}
}
