package memory

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// FleetCounts implements hub.FleetStore.
func (s *Store) FleetCounts(ctx context.Context, now time.Time) ([]hub.FleetCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ts := s.allTenants()
	out := make([]hub.FleetCount, 0, len(ts))
	for _, t := range ts {
		t.mu.RLock()
		c := hub.FleetCount{TenantID: t.rec.ID}
		for _, p := range t.proxies {
			switch {
			case p.paused():
				c.Paused++
			case p.offline() || p.deadline < now.UnixNano():
				c.Offline++
			default:
				c.Online++
			}
		}
		t.mu.RUnlock()
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b hub.FleetCount) int { return cmp.Compare(a.TenantID, b.TenantID) })
	return out, nil
}

// NotificationCounts implements hub.FleetStore.
func (s *Store) NotificationCounts(ctx context.Context) ([]hub.NotificationCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []hub.NotificationCount
	for _, t := range s.allTenants() {
		t.mu.RLock()
		byKind := map[string]*hub.NotificationCount{}
		for _, w := range t.webhooks {
			if !w.Enabled {
				continue
			}
			c := byKind[w.Kind]
			if c == nil {
				c = &hub.NotificationCount{TenantID: t.rec.ID, Kind: w.Kind}
				byKind[w.Kind] = c
			}
			if !w.FailingSince.IsZero() {
				c.Failing++
			}
			// The first event after the cursor: events are in id order.
			items := t.events.items
			i, _ := slices.BinarySearchFunc(items, w.Cursor+1, func(e hub.Event, id int64) int { return cmp.Compare(e.ID, id) })
			if i < len(items) {
				c.Pending++
				if at := items[i].At; c.OldestPending.IsZero() || at.Before(c.OldestPending) {
					c.OldestPending = at
				}
			}
		}
		t.mu.RUnlock()
		for _, c := range byKind {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b hub.NotificationCount) int {
		return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), cmp.Compare(a.Kind, b.Kind))
	})
	return out, nil
}
