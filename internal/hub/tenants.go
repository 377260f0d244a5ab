package hub

import (
	"context"
	"sync"
	"time"
)

// TenantTTL is how long the hub reuses a tenant's settings before reading
// them again. Changes made through this hub apply at once (ForgetTenant);
// changes made through another hub sharing the database apply within it.
const TenantTTL = 5 * time.Second

// tenantCache keeps recently read tenants, so a heartbeat does not read
// its tenant's settings from the store every time.
type tenantCache struct {
	mu sync.RWMutex
	m  map[string]cachedTenant
}

type cachedTenant struct {
	t       Tenant
	fetched time.Time
}

// tenant returns the tenant's settings, from the cache when fresh.
func (s *Service) tenant(ctx context.Context, id string) (Tenant, error) {
	now := time.Now()
	s.tenants.mu.RLock()
	c, ok := s.tenants.m[id]
	s.tenants.mu.RUnlock()
	if ok && now.Sub(c.fetched) < TenantTTL {
		return c.t, nil
	}
	t, err := s.store.GetTenant(ctx, id)
	if err != nil {
		return t, err
	}
	s.tenants.mu.Lock()
	if s.tenants.m == nil {
		s.tenants.m = map[string]cachedTenant{}
	}
	s.tenants.m[id] = cachedTenant{t: t, fetched: now}
	s.tenants.mu.Unlock()
	return t, nil
}

// ForgetTenant drops a tenant's cached settings: call it when they change.
func (s *Service) ForgetTenant(id string) {
	s.tenants.mu.Lock()
	delete(s.tenants.m, id)
	s.tenants.mu.Unlock()
}
