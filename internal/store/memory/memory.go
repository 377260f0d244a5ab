// Package memory is the embedded store: everything kept in the process's
// memory, nothing installed, nothing kept across restarts. It is the default
// when no database URL is configured.
package memory

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/proxyhub/proxyhub/internal/store"
)

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	mu      sync.RWMutex // guards tenants (the map, not the tenants in it)
	tenants map[string]*tenant
	nextID  atomic.Int64 // last IPChange id handed out
}

// tenant holds one tenant's records behind its own lock, so heartbeats of
// different tenants never contend.
type tenant struct {
	mu      sync.RWMutex
	proxies map[string]*store.Proxy
	changes []store.IPChange // append-only, oldest first
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{tenants: make(map[string]*tenant)}
}

// tenant returns the tenant's state, creating it when create is true.
func (s *Store) tenant(id string, create bool) *tenant {
	s.mu.RLock()
	t := s.tenants[id]
	s.mu.RUnlock()
	if t != nil || !create {
		return t
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t = s.tenants[id]; t == nil {
		t = &tenant{proxies: make(map[string]*store.Proxy)}
		s.tenants[id] = t
	}
	return t
}

// RecordHeartbeat implements store.Store.
func (s *Store) RecordHeartbeat(ctx context.Context, hb store.Heartbeat) (store.HeartbeatResult, error) {
	if err := ctx.Err(); err != nil {
		return store.HeartbeatResult{}, err
	}
	t := s.tenant(hb.TenantID, true)
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.proxies[hb.Name]
	if !ok {
		p = &store.Proxy{
			TenantID:  hb.TenantID,
			Name:      hb.Name,
			IP:        hb.IP,
			PeerIP:    hb.PeerIP,
			CreatedAt: hb.At,
			LastSeen:  hb.At,
		}
		t.proxies[hb.Name] = p
		return store.HeartbeatResult{Proxy: *p, Created: true}, nil
	}
	res := store.HeartbeatResult{}
	if p.IP != hb.IP {
		res.Changed, res.PreviousIP = true, p.IP
		p.IPChanges++
		t.changes = append(t.changes, store.IPChange{
			ID:        s.nextID.Add(1),
			TenantID:  hb.TenantID,
			Proxy:     hb.Name,
			OldIP:     p.IP,
			NewIP:     hb.IP,
			At:        hb.At,
			TokenID:   hb.TokenID,
			RequestID: hb.RequestID,
		})
	}
	p.IP, p.PeerIP = hb.IP, hb.PeerIP
	if hb.At.After(p.LastSeen) {
		p.LastSeen = hb.At
	}
	res.Proxy = *p
	return res, nil
}

// ListProxies implements store.Store.
func (s *Store) ListProxies(ctx context.Context, tenantID string, q store.ProxyQuery) ([]store.Proxy, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := s.tenant(tenantID, false)
	if t == nil {
		return []store.Proxy{}, nil
	}
	t.mu.RLock()
	out := make([]store.Proxy, 0, len(t.proxies))
	for name, p := range t.proxies {
		if !strings.HasPrefix(name, q.NamePrefix) || (q.After != "" && name <= q.After) {
			continue
		}
		if !q.SeenBefore.IsZero() && !p.LastSeen.Before(q.SeenBefore) {
			continue
		}
		if !q.SeenSince.IsZero() && p.LastSeen.Before(q.SeenSince) {
			continue
		}
		out = append(out, *p)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.Proxy) int { return cmp.Compare(a.Name, b.Name) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// GetProxy implements store.Store.
func (s *Store) GetProxy(ctx context.Context, tenantID, name string) (store.Proxy, error) {
	if err := ctx.Err(); err != nil {
		return store.Proxy{}, err
	}
	t := s.tenant(tenantID, false)
	if t == nil {
		return store.Proxy{}, store.ErrNotFound
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	p, ok := t.proxies[name]
	if !ok {
		return store.Proxy{}, store.ErrNotFound
	}
	return *p, nil
}

// ListIPChanges implements store.Store.
func (s *Store) ListIPChanges(ctx context.Context, tenantID, proxy string, limit int) ([]store.IPChange, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []store.IPChange{}
	t := s.tenant(tenantID, false)
	if t == nil {
		return out, nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i := len(t.changes) - 1; i >= 0; i-- {
		if limit > 0 && len(out) == limit {
			break
		}
		if c := t.changes[i]; proxy == "" || c.Proxy == proxy {
			out = append(out, c)
		}
	}
	return out, nil
}

// Ping implements store.Store; memory is always reachable.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close implements store.Store; there is nothing to release.
func (s *Store) Close() error { return nil }
