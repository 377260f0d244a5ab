package hub

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// Defaults and limits of tenant settings.
const (
	MinOfflineAfter   = time.Second
	MaxOfflineAfter   = 24 * time.Hour
	DefaultMaxProxies = 10000
	MaxMaxProxies     = 10_000_000
	// AccessTokenTTL is the lifetime of a JWT from the client credentials
	// exchange.
	AccessTokenTTL = 15 * time.Minute
)

var tenantID = regexp.MustCompile(`^[a-z0-9-]{2,40}$`)

// ValidTenantID reports whether id is a tenant slug: 2–40 characters of
// lowercase letters, digits and '-'.
func ValidTenantID(id string) bool { return tenantID.MatchString(id) }

// TenantSettings are the optional settings of a create or update; nil
// leaves the default (create) or the current value (update).
type TenantSettings struct {
	Name         *string
	OfflineAfter *time.Duration
	MaxProxies   *int
	AutoRegister *bool
}

// CreateTenant validates and stores a new tenant with defaults for unset
// settings.
func (s *Service) CreateTenant(ctx context.Context, id string, set TenantSettings) (Tenant, error) {
	if !ValidTenantID(id) {
		return Tenant{}, &FieldError{"body.id", "2-40 characters: lowercase letters, digits and '-'"}
	}
	now := s.timestamp()
	t := Tenant{ID: id, Name: id, OfflineAfter: s.offlineAfter, MaxProxies: DefaultMaxProxies, AutoRegister: true, CreatedAt: now, UpdatedAt: now}
	if err := apply(&t, set); err != nil {
		return Tenant{}, err
	}
	if err := s.store.CreateTenant(ctx, t); err != nil {
		return Tenant{}, fmt.Errorf("create tenant: %w", err)
	}
	return t, s.tenantChanged(ctx, t)
}

// UpdateTenant changes the given settings of a tenant.
func (s *Service) UpdateTenant(ctx context.Context, id string, set TenantSettings) (Tenant, error) {
	t, err := s.store.GetTenant(ctx, id)
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant: %w", err)
	}
	if err := apply(&t, set); err != nil {
		return Tenant{}, err
	}
	t.UpdatedAt = s.timestamp()
	if err := s.store.UpdateTenant(ctx, t); err != nil {
		return Tenant{}, fmt.Errorf("update tenant: %w", err)
	}
	return t, s.tenantChanged(ctx, t)
}

// Tenants returns every tenant, sorted by id.
func (s *Service) Tenants(ctx context.Context) ([]Tenant, error) { return s.store.ListTenants(ctx) }

// Tenant returns a tenant with its current settings, or ErrNotFound.
func (s *Service) Tenant(ctx context.Context, id string) (Tenant, error) {
	return s.store.GetTenant(ctx, id)
}

// SetAllowlists replaces the tenant's heartbeat allowlist and admin
// allowlist, each validated and normalised by ParseCIDRs. Empty lists
// accept any address.
func (s *Service) SetAllowlists(ctx context.Context, id string, heartbeatCIDRs, adminCIDRs []string) (Tenant, error) {
	heartbeat, err := ParseCIDRs("body.cidrs", heartbeatCIDRs)
	if err != nil {
		return Tenant{}, err
	}
	admin, err := ParseCIDRs("body.admin_cidrs", adminCIDRs)
	if err != nil {
		return Tenant{}, err
	}
	t, err := s.store.GetTenant(ctx, id)
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant: %w", err)
	}
	t.Allowlist, t.AdminAllowlist, t.UpdatedAt = heartbeat, admin, s.timestamp()
	if err := s.store.UpdateTenant(ctx, t); err != nil {
		return Tenant{}, fmt.Errorf("update allowlists: %w", err)
	}
	return t, s.tenantChanged(ctx, t)
}

// apply validates set and copies it into t; on error t is unchanged.
func apply(t *Tenant, set TenantSettings) error {
	next := *t
	if set.Name != nil {
		if n := len(*set.Name); n < 1 || n > 200 {
			return &FieldError{"body.name", "1-200 characters"}
		}
		next.Name = *set.Name
	}
	if set.OfflineAfter != nil {
		if d := *set.OfflineAfter; d < MinOfflineAfter || d > MaxOfflineAfter {
			return &FieldError{"body.offline_after", "between 1s and 24h"}
		}
		next.OfflineAfter = *set.OfflineAfter
	}
	if set.MaxProxies != nil {
		if n := *set.MaxProxies; n < 1 || n > MaxMaxProxies {
			return &FieldError{"body.max_proxies", fmt.Sprintf("between 1 and %d", MaxMaxProxies)}
		}
		next.MaxProxies = *set.MaxProxies
	}
	if set.AutoRegister != nil {
		next.AutoRegister = *set.AutoRegister
	}
	*t = next
	return nil
}
