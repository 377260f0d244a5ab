package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// CreateTenant implements hub.TenantStore.
func (s *Store) CreateTenant(ctx context.Context, rec hub.Tenant) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tenants[rec.ID]; ok {
		return fmt.Errorf("tenant %q: %w", rec.ID, hub.ErrConflict)
	}
	rec.Allowlist = slices.Clone(rec.Allowlist)
	rec.AdminAllowlist = slices.Clone(rec.AdminAllowlist)
	s.tenants[rec.ID] = &tenant{
		rec: rec, proxies: make(map[string]*proxyRec), tokenByID: map[string]*hub.Token{},
		changes: boundedLog[hub.IPChange]{max: maxAuditRecords}, denied: boundedLog[hub.Denied]{max: maxAuditRecords},
		events: boundedLog[hub.Event]{max: maxEvents}, deliveries: boundedLog[hub.Delivery]{max: maxDeliveries},
	}
	return nil
}

// GetTenant implements hub.TenantStore.
func (s *Store) GetTenant(ctx context.Context, id string) (hub.Tenant, error) {
	t, err := s.tenant(ctx, id)
	if err != nil {
		return hub.Tenant{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return cloneTenant(t.rec), nil
}

// allTenants returns every tenant (in no order), for work across tenants
// that then takes each one's own lock.
func (s *Store) allTenants() []*tenant {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ts := make([]*tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		ts = append(ts, t)
	}
	return ts
}

// ListTenants implements hub.TenantStore.
func (s *Store) ListTenants(ctx context.Context) ([]hub.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ts := s.allTenants()
	out := make([]hub.Tenant, len(ts))
	for i, t := range ts {
		t.mu.RLock()
		out[i] = cloneTenant(t.rec)
		t.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b hub.Tenant) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateTenant implements hub.TenantStore.
func (s *Store) UpdateTenant(ctx context.Context, rec hub.Tenant) error {
	t, err := s.tenant(ctx, rec.ID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rec.CreatedAt = t.rec.CreatedAt
	timeoutChanged := rec.OfflineAfter != t.rec.OfflineAfter
	t.rec = cloneTenant(rec)
	if timeoutChanged {
		for _, p := range t.proxies {
			if p.offlineAfter == 0 {
				s.setDeadline(t, p, p.lastSeen+int64(t.timeout(p)))
			}
		}
	}
	return nil
}

func cloneTenant(t hub.Tenant) hub.Tenant {
	t.Allowlist = slices.Clone(t.Allowlist)
	t.AdminAllowlist = slices.Clone(t.AdminAllowlist)
	return t
}
