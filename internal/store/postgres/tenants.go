package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/hub"
)

const tenantColumns = `id, name, offline_after_ms, max_proxies, auto_register, allowlist, admin_allowlist, created_at, updated_at`

// scanTenant reads the columns of tenantColumns.
func scanTenant(row pgx.Row) (hub.Tenant, error) {
	var t hub.Tenant
	var offlineMS int64
	err := row.Scan(&t.ID, &t.Name, &offlineMS, &t.MaxProxies, &t.AutoRegister,
		&t.Allowlist, &t.AdminAllowlist, &t.CreatedAt, &t.UpdatedAt)
	t.OfflineAfter = time.Duration(offlineMS) * time.Millisecond
	t.Allowlist, t.AdminAllowlist = fromCIDRs(t.Allowlist), fromCIDRs(t.AdminAllowlist)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, err
}

// CreateTenant implements hub.TenantStore. It runs in the new tenant's
// own scope. OfflineAfter is kept in whole milliseconds; allowlist networks
// are kept with their host bits cleared.
func (s *Store) CreateTenant(ctx context.Context, t hub.Tenant) error {
	return s.inScope(ctx, tenantScope(t.ID), fmt.Sprintf("postgres: create tenant %q", t.ID), func(b *pgx.Batch) {
		b.Queue(`INSERT INTO tenants (`+tenantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			t.ID, t.Name, t.OfflineAfter.Milliseconds(), t.MaxProxies, t.AutoRegister,
			cidrs(t.Allowlist), cidrs(t.AdminAllowlist), t.CreatedAt, t.UpdatedAt,
		).Exec(ignoreTag)
		notifyTenant(b, t.ID)
	})
}

// GetTenant implements hub.TenantStore.
func (s *Store) GetTenant(ctx context.Context, id string) (hub.Tenant, error) {
	var t hub.Tenant
	err := s.inScope(ctx, tenantScope(id), fmt.Sprintf("postgres: get tenant %q", id), func(b *pgx.Batch) {
		b.Queue(`SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id).QueryRow(func(row pgx.Row) (err error) {
			t, err = scanTenant(row)
			return err
		})
	})
	return t, err
}

// ListTenants implements hub.TenantStore. It is the one read of every
// tenant, in the platform scope.
func (s *Store) ListTenants(ctx context.Context) ([]hub.Tenant, error) {
	out := []hub.Tenant{}
	err := s.inScope(ctx, platformScope, "postgres: list tenants", func(b *pgx.Batch) {
		b.Queue(`SELECT ` + tenantColumns + ` FROM tenants ORDER BY id`).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				t, err := scanTenant(rows)
				if err != nil {
					return err
				}
				out = append(out, t)
			}
			return rows.Err()
		})
	})
	return out, err
}

// UpdateTenant implements hub.TenantStore. When the tenant's timeout
// changes, the proxies that follow it (no override of their own) get the
// new timeout and a deadline recomputed from their last heartbeat, in the
// same transaction.
//
// Races: the tenant row's update waits for a transaction creating proxies
// (which locks that row), and the proxies' update is a statement of its
// own, whose snapshot sees them. A heartbeat computes its deadline from its
// proxy's row (timeout_ms), which both it and this update lock: whichever
// comes second sees the other's row. SetOfflineAfter locks the tenant row
// (FOR SHARE) before reading the tenant's timeout.
func (s *Store) UpdateTenant(ctx context.Context, t hub.Tenant) error {
	what := fmt.Sprintf("postgres: update tenant %q", t.ID)
	return s.inScope(ctx, tenantScope(t.ID), what, func(b *pgx.Batch) {
		b.Queue(`UPDATE tenants
			    SET name = $2, offline_after_ms = $3, max_proxies = $4, auto_register = $5,
			        allowlist = $6, admin_allowlist = $7, updated_at = $8
			  WHERE id = $1`,
			t.ID, t.Name, t.OfflineAfter.Milliseconds(), t.MaxProxies, t.AutoRegister,
			cidrs(t.Allowlist), cidrs(t.AdminAllowlist), t.UpdatedAt,
		).Exec(affectedOne)
		b.Queue(`UPDATE proxies
			    SET timeout_ms = proxyhub_timeout_ms(NULL, $2),
			        deadline = last_seen + proxyhub_timeout_ms(NULL, $2) * interval '1 millisecond',
			        check_at = last_seen + proxyhub_timeout_ms(NULL, $2) * interval '1 millisecond'
			  WHERE tenant_id = $1 AND offline_after_ms IS NULL AND timeout_ms <> proxyhub_timeout_ms(NULL, $2)`,
			t.ID, t.OfflineAfter.Milliseconds(),
		).Exec(ignoreTag)
		notifyTenant(b, t.ID)
	})
}

// tenantsChannel is the NOTIFY channel of tenant changes; the payload is
// the tenant id.
const tenantsChannel = "proxyhub_tenants"

// notifyTenant queues the notification that tells every hub (WatchTenants)
// that tenant id was created or changed; it is delivered at commit, so a
// hub that reads the tenant when told sees the change.
func notifyTenant(b *pgx.Batch, id string) {
	b.Queue(`SELECT pg_notify('`+tenantsChannel+`', $1)`, id).Exec(ignoreTag)
}

// WatchTenants implements hub.TenantWatcher with LISTEN proxyhub_tenants
// on a connection of its own: fn is called with the id of every tenant
// created or changed through any hub sharing the database, this one
// included. Whenever the connection is re-established, notifications
// may have been missed, so fn is called with "" (every tenant may have
// changed). It returns when ctx ends (nil) or the store is closed.
func (s *Store) WatchTenants(ctx context.Context, fn func(tenantID string)) error {
	return s.listenLoop(ctx, "proxyhub-tenants", tenantsChannel, func(_ context.Context, first bool) {
		if !first {
			fn("")
		}
	}, fn)
}
