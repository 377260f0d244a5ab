package memory

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// ScanIPChanges implements hub.AuditStore. It copies the matching records
// under the tenant's read lock, so fn may call back into the store.
func (s *Store) ScanIPChanges(ctx context.Context, tenantID string, q hub.AuditQuery, fn func(hub.IPChange) error) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	t.mu.RLock()
	sel := selectNewestFirst(t.changes.items, q, func(c hub.IPChange) (int64, string, time.Time, bool) {
		return c.ID, c.Proxy, c.At, !q.IP.IsValid() || c.OldIP == q.IP || c.NewIP == q.IP
	})
	t.mu.RUnlock()
	return each(ctx, sel, fn)
}

// RecordDenied implements hub.AuditStore.
func (s *Store) RecordDenied(ctx context.Context, d hub.Denied) (int64, error) {
	t, err := s.tenant(ctx, d.TenantID)
	if err != nil {
		return 0, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d.ID = s.nextID.Add(1)
	t.denied.add(d)
	s.appendEvent(t, hub.Event{Type: hub.EventDenied, Proxy: d.Proxy, At: d.At, NewIP: d.IP})
	return d.ID, nil
}

// ScanDenied implements hub.AuditStore.
func (s *Store) ScanDenied(ctx context.Context, tenantID string, q hub.AuditQuery, fn func(hub.Denied) error) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	t.mu.RLock()
	sel := selectNewestFirst(t.denied.items, q, func(d hub.Denied) (int64, string, time.Time, bool) {
		return d.ID, d.Proxy, d.At, !q.IP.IsValid() || d.IP == q.IP
	})
	t.mu.RUnlock()
	return each(ctx, sel, fn)
}

// IPChangeStats implements hub.AuditStore.
func (s *Store) IPChangeStats(ctx context.Context, tenantID string, since, until time.Time) ([]hub.ProxyStats, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	type acc struct {
		stats hub.ProxyStats
		ips   map[netip.Addr]struct{}
	}
	by := map[string]*acc{}
	t.mu.RLock()
	for _, c := range t.changes.items {
		if (!since.IsZero() && c.At.Before(since)) || (!until.IsZero() && !c.At.Before(until)) {
			continue
		}
		a := by[c.Proxy]
		if a == nil {
			a = &acc{stats: hub.ProxyStats{Proxy: c.Proxy}, ips: map[netip.Addr]struct{}{}}
			by[c.Proxy] = a
		}
		a.stats.Changes++
		a.ips[c.NewIP] = struct{}{}
		if c.At.After(a.stats.LastChange) {
			a.stats.LastChange = c.At
		}
	}
	t.mu.RUnlock()
	out := make([]hub.ProxyStats, 0, len(by))
	for _, a := range by {
		a.stats.DistinctIPs = int64(len(a.ips))
		out = append(out, a.stats)
	}
	slices.SortFunc(out, func(a, b hub.ProxyStats) int { return cmp.Compare(a.Proxy, b.Proxy) })
	return out, nil
}

// selectNewestFirst returns the records of an append-only log (ids
// increasing) that match q, newest first. key reports a record's id, proxy,
// time and whether it matches the query's IP filter.
func selectNewestFirst[T any](log []T, q hub.AuditQuery, key func(T) (int64, string, time.Time, bool)) []T {
	var out []T
	for i := len(log) - 1; i >= 0; i-- {
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
		id, proxy, at, ipMatch := key(log[i])
		switch {
		case q.BeforeID > 0 && id >= q.BeforeID,
			q.Proxy != "" && proxy != q.Proxy,
			!q.Since.IsZero() && at.Before(q.Since),
			!q.Until.IsZero() && !at.Before(q.Until),
			!ipMatch:
			continue
		}
		out = append(out, log[i])
	}
	return out
}

func each[T any](ctx context.Context, recs []T, fn func(T) error) error {
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
