package memory

import (
	"context"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// The embedded store keeps everything in memory, so its logs are bounded:
// each keeps the newest records up to its limit and forgets the oldest.
// (PostgreSQL keeps the full history; the embedded store is for trying the
// hub and for small fleets, and loses everything at restart anyway.)
const (
	maxAuditRecords = 1_000_000 // IP changes and denied heartbeats, per tenant
	maxEvents       = 100_000   // event stream, per tenant
	maxDeliveries   = 10_000    // webhook delivery log, per tenant
)

// boundedLog is an append-only log that keeps its newest max records.
type boundedLog[T any] struct {
	items []T
	max   int
}

// add appends r, dropping the oldest quarter when the log is full (so the
// copying is amortised).
func (l *boundedLog[T]) add(r T) {
	if l.max > 0 && len(l.items) >= l.max {
		drop := max(l.max/4, 1)
		l.items = append(l.items[:0:0], l.items[drop:]...)
	}
	l.items = append(l.items, r)
}

// prune deletes up to maxRows records (maxRows <= 0: all) recorded before
// before, by at, and returns how many.
func (l *boundedLog[T]) prune(before time.Time, maxRows int, at func(*T) time.Time) int {
	n := 0
	l.items = slices.DeleteFunc(l.items, func(r T) bool {
		if (maxRows > 0 && n >= maxRows) || !at(&r).Before(before) {
			return false
		}
		n++
		return true
	})
	return n
}

// PruneHistory implements hub.AuditStore.
func (s *Store) PruneHistory(ctx context.Context, before time.Time, maxRows int) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := hub.CheckPruneBefore(before, time.Now()); err != nil {
		return 0, err
	}
	tenants := s.allTenants()
	left := [4]int{maxRows, maxRows, maxRows, maxRows} // per kind, across tenants; <= 0 without a limit: all
	var total int64
	for _, t := range tenants {
		t.mu.Lock()
		for kind, prune := range []func(int) int{
			func(m int) int { return t.changes.prune(before, m, func(r *hub.IPChange) time.Time { return r.At }) },
			func(m int) int { return t.denied.prune(before, m, func(r *hub.Denied) time.Time { return r.At }) },
			func(m int) int { return t.events.prune(before, m, func(r *hub.Event) time.Time { return r.At }) },
			func(m int) int {
				return t.deliveries.prune(before, m, func(r *hub.Delivery) time.Time { return r.At })
			},
		} {
			if maxRows > 0 && left[kind] <= 0 {
				continue
			}
			n := prune(left[kind])
			left[kind] -= n
			total += int64(n)
		}
		t.mu.Unlock()
	}
	return total, nil
}
