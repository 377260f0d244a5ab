package hub

import (
	"context"
	"sync"
	"time"
)

// TenantTTL is how long the hub reuses a tenant's settings before reading
// them again. Changes made through this hub apply at once; changes made
// through another hub sharing the database apply when the store reports
// them (FollowTenants), and within TenantTTL should a report be lost.
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

// forgetAll empties the cache.
func (c *tenantCache) forgetAll() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// FollowTenants applies tenant changes made through other hubs sharing the
// store as soon as the store reports them (TenantWatcher), instead of
// after TenantTTL: the cached settings are dropped and the changed tenant
// is passed to the OnTenantChange hook (the policy engine's allowlists).
// When the store reports that changes may have been missed, every cached
// tenant is dropped and resync runs (the policy engine reloads all
// tenants). With a store that does not watch (one hub), it waits for ctx.
// It returns when ctx ends.
func (s *Service) FollowTenants(ctx context.Context, resync func(context.Context) error) error {
	w, ok := s.store.(TenantWatcher)
	if !ok {
		<-ctx.Done()
		return nil
	}
	return w.WatchTenants(ctx, func(id string) {
		if id == "" {
			s.tenants.forgetAll()
			if resync != nil {
				if err := resync(ctx); err != nil {
					s.log.WarnContext(ctx, "tenant resync failed", "error", err.Error())
				}
			}
			return
		}
		s.tenants.forget(id)
		if s.onTenantChange == nil {
			return
		}
		t, err := s.store.GetTenant(ctx, id)
		if err == nil {
			err = s.onTenantChange(ctx, t)
		}
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "tenant change not applied; the periodic resync will", "tenant", id, "error", err.Error())
		}
	})
}
