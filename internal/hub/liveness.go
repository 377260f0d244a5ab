package hub

import (
	"context"
	"fmt"
	"time"
)

// OfflineAfter returns the tenant's offline timeout, or the hub's default
// when the tenant has none set.
func (s *Service) OfflineAfter(t Tenant) time.Duration {
	if t.OfflineAfter > 0 {
		return t.OfflineAfter
	}
	return s.offlineAfter
}

// view returns p with its liveness at now: offline once its deadline has
// passed, exactly what the sweeper and the proxy list's status filter go
// by. The deadline is the stored one (last heartbeat, or resumption after a
// pause, plus its own timeout when it has one, else the tenant's); a proxy
// without one gets last heartbeat + timeout.
func (s *Service) view(p Proxy, t Tenant, now time.Time) ProxyView {
	timeout := s.OfflineAfter(t)
	if p.OfflineAfter > 0 {
		timeout = p.OfflineAfter
	}
	if p.Deadline.IsZero() {
		p.Deadline = p.LastSeen.Add(timeout)
	}
	status := Online
	if now.After(p.Deadline) {
		status = Offline
	}
	return ProxyView{Proxy: p, Status: status, Timeout: timeout}
}

// ProxyView is a proxy with its liveness.
type ProxyView struct {
	Proxy
	Status  Status
	Timeout time.Duration // the offline timeout that applies to it
}

// Report is the status of every proxy of a tenant at one instant.
type Report struct {
	At      time.Time
	Proxies []ProxyView // sorted by name
	Online  int
	Offline int
}

// Status reports every proxy of the tenant, sorted by name.
func (s *Service) Status(ctx context.Context, tenantID string) (Report, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return Report{}, fmt.Errorf("tenant: %w", err)
	}
	now := s.now()
	ps, err := s.store.ListProxies(ctx, tenantID, ProxyQuery{})
	if err != nil {
		return Report{}, fmt.Errorf("list proxies: %w", err)
	}
	r := Report{At: now, Proxies: make([]ProxyView, len(ps))}
	for i, p := range ps {
		r.Proxies[i] = s.view(p, t, now)
		if r.Proxies[i].Status == Online {
			r.Online++
		} else {
			r.Offline++
		}
	}
	return r, nil
}
