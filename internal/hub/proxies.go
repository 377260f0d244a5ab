package hub

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// ProxyFilter selects proxies for a page of the proxy list.
type ProxyFilter struct {
	Status     Status // "" for all
	NamePrefix string
	After      string // cursor: the last name of the previous page
	Limit      int
}

// Proxies returns one page of the tenant's proxies matching f, sorted by
// name, with their liveness; more is true when another page follows.
func (s *Service) Proxies(ctx context.Context, tenantID string, f ProxyFilter) (page []ProxyView, more bool, err error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, false, fmt.Errorf("tenant: %w", err)
	}
	now := s.now()
	// A proxy is online until its deadline (its last heartbeat plus its
	// own timeout, else its tenant's), as its view says.
	q := ProxyQuery{NamePrefix: f.NamePrefix, After: f.After, Limit: f.Limit + 1}
	switch f.Status {
	case Online:
		q.DeadlineFrom = now
	case Offline:
		q.DeadlineBefore = now
	}
	ps, err := s.store.ListProxies(ctx, tenantID, q)
	if err != nil {
		return nil, false, fmt.Errorf("list proxies: %w", err)
	}
	if more = len(ps) > f.Limit; more {
		ps = ps[:f.Limit]
	}
	page = make([]ProxyView, len(ps))
	for i, p := range ps {
		page[i] = s.view(p, t, now)
	}
	return page, more, nil
}

// Proxy returns one proxy of the tenant with its liveness.
func (s *Service) Proxy(ctx context.Context, tenantID, name string) (ProxyView, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return ProxyView{}, fmt.Errorf("tenant: %w", err)
	}
	p, err := s.store.GetProxy(ctx, tenantID, name)
	if err != nil {
		return ProxyView{}, fmt.Errorf("proxy: %w", err)
	}
	return s.view(p, t, s.now()), nil
}

// Decommission removes a proxy; its IP-change history stays.
func (s *Service) Decommission(ctx context.Context, tenantID, name string) error {
	if err := s.store.DeleteProxy(ctx, tenantID, name); err != nil {
		return fmt.Errorf("decommission: %w", err)
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "proxy_decommissioned", slog.String("tenant", tenantID), slog.String("proxy", name))
	return nil
}

// ProxyChange is a change of one proxy's liveness settings; nil leaves a
// field as it is.
type ProxyChange struct {
	// Paused puts the proxy in maintenance (no flips, no alerts) or ends it.
	Paused *bool
	// OfflineAfter overrides the tenant's timeout for this proxy; 0 clears
	// the override.
	OfflineAfter *time.Duration
}

// UpdateProxy applies a change to one proxy of the tenant and returns it
// with its liveness.
func (s *Service) UpdateProxy(ctx context.Context, tenantID, name string, c ProxyChange) (ProxyView, error) {
	if d := c.OfflineAfter; d != nil && *d != 0 && (*d < MinOfflineAfter || *d > MaxOfflineAfter) {
		return ProxyView{}, &FieldError{"body.offline_after", "0 (follow the tenant) or between 1s and 24h"}
	}
	if c.OfflineAfter != nil {
		if _, err := s.store.SetOfflineAfter(ctx, tenantID, name, *c.OfflineAfter); err != nil {
			return ProxyView{}, fmt.Errorf("set offline_after: %w", err)
		}
	}
	if c.Paused != nil {
		if _, err := s.store.SetPaused(ctx, tenantID, name, *c.Paused, s.now()); err != nil {
			return ProxyView{}, fmt.Errorf("set paused: %w", err)
		}
	}
	return s.Proxy(ctx, tenantID, name)
}
