package hub

import (
	"context"
	"net/netip"
	"time"
)

// Tenant is one team sharing the hub, with its settings.
type Tenant struct {
	ID           string
	Name         string
	OfflineAfter time.Duration // silence after which a proxy is offline
	MaxProxies   int           // cap on proxies; new names beyond it are refused
	AutoRegister bool          // unbound tokens may register new names
	// Allowlist holds the source networks heartbeats must come from; empty
	// accepts any address.
	Allowlist []netip.Prefix
	// AdminAllowlist holds the networks admin calls must come from; empty
	// accepts any address.
	AdminAllowlist []netip.Prefix
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// TenantStore keeps tenants.
type TenantStore interface {
	// CreateTenant stores a new tenant; ErrConflict when the id is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	// GetTenant returns a tenant, or ErrNotFound.
	GetTenant(ctx context.Context, id string) (Tenant, error)
	// ListTenants returns every tenant sorted by id.
	ListTenants(ctx context.Context) ([]Tenant, error)
	// UpdateTenant replaces a tenant's name and settings (not its id or
	// creation time); ErrNotFound when it does not exist.
	UpdateTenant(ctx context.Context, t Tenant) error
}

// TenantWatcher is a TenantStore shared by several hubs that tells each of
// them when a tenant is created or changed through any of them.
type TenantWatcher interface {
	// WatchTenants calls fn with the id of each tenant created or changed,
	// after the change is committed, until ctx ends; fn("") means any
	// tenant may have changed (notifications were missed).
	WatchTenants(ctx context.Context, fn func(tenantID string)) error
}

// TokenHeartbeatsPerMinute is how many heartbeats one token of t may send
// a minute across all its proxy names, unless the hub sets its own
// limit: twice the tenant's max_proxies (every proxy once a minute, with
// room for retries and clock skew), at least 600; a tenant without a cap
// counts as DefaultMaxProxies.
func TokenHeartbeatsPerMinute(t Tenant) int {
	n := t.MaxProxies
	if n <= 0 {
		n = DefaultMaxProxies
	}
	return max(2*n, 600)
}

// TokenHeartbeatsPerMinute is TokenHeartbeatsPerMinute of the tenant's
// settings (cached like every heartbeat's).
func (s *Service) TokenHeartbeatsPerMinute(ctx context.Context, tenantID string) (int, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	return TokenHeartbeatsPerMinute(t), nil
}
