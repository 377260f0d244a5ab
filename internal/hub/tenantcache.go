package hub

import (
	"context"
	"sync"
	"time"
)

// TenantTTL is how long the hub reuses a tenant's settings before reading
// them again. Changes made through this hub apply at once; changes made
// through another hub sharing the database apply within it.
const TenantTTL = 5 * time.Second

// tenantCache keeps recently read tenants, so a heartbeat does not read
// its tenant's settings from the store every time. Entries expire by the
// service's clock.
type tenantCache struct {
	now func() time.Time
	mu  sync.RWMutex
	m   map[string]cachedTenant
}

type cachedTenant struct {
	t       Tenant
	fetched time.Time
}

// get returns the tenant when cached and fresh.
func (c *tenantCache) get(id string) (Tenant, bool) {
	c.mu.RLock()
	e, ok := c.m[id]
	c.mu.RUnlock()
	if !ok {
		return Tenant{}, false
	}
	if age := c.now().Sub(e.fetched); age < 0 || age >= TenantTTL {
		return Tenant{}, false
	}
	return e.t, true
}

func (c *tenantCache) put(t Tenant) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]cachedTenant{}
	}
	c.m[t.ID] = cachedTenant{t: t, fetched: c.now()}
	c.mu.Unlock()
}

func (c *tenantCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// tenant returns the tenant's settings, from the cache when fresh.
func (s *Service) tenant(ctx context.Context, id string) (Tenant, error) {
	if t, ok := s.tenants.get(id); ok {
		return t, nil
	}
	t, err := s.store.GetTenant(ctx, id)
	if err != nil {
		return t, err
	}
	s.tenants.put(t)
	return t, nil
}
