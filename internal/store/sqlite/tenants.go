package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// CreateTenant implements hub.TenantStore.
func (s *Store) CreateTenant(ctx context.Context, rec hub.Tenant) error {
	const what = "sqlite: create tenant"
	return s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if s.st.tenants[rec.ID] != nil {
			return nil, fmt.Errorf("sqlite: tenant %q: %w", rec.ID, hub.ErrConflict)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, offline_after_ns, max_proxies, auto_register, allowlist, admin_allowlist, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.ID, rec.Name, int64(rec.OfflineAfter), rec.MaxProxies, boolInt(rec.AutoRegister),
			prefixesText(rec.Allowlist), prefixesText(rec.AdminAllowlist), rec.CreatedAt.UnixNano(), rec.UpdatedAt.UnixNano())
		if err != nil {
			return nil, translate(err, what)
		}
		rec = cloneTenant(rec)
		return func() { s.st.tenants[rec.ID] = newTenantState(rec) }, nil
	})
}

// GetTenant implements hub.TenantStore.
func (s *Store) GetTenant(ctx context.Context, id string) (hub.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return hub.Tenant{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.st.tenants[id]
	if t == nil {
		return hub.Tenant{}, fmt.Errorf("sqlite: tenant %q: %w", id, hub.ErrNotFound)
	}
	return cloneTenant(t.rec), nil
}

// ListTenants implements hub.TenantStore.
func (s *Store) ListTenants(ctx context.Context) ([]hub.Tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := make([]hub.Tenant, 0, len(s.st.tenants))
	for _, t := range s.st.tenants {
		out = append(out, cloneTenant(t.rec))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b hub.Tenant) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateTenant implements hub.TenantStore. A new offline timeout moves the
// deadlines of the tenant's proxies that follow it.
func (s *Store) UpdateTenant(ctx context.Context, rec hub.Tenant) error {
	const what = "sqlite: update tenant"
	return s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		t := s.st.tenants[rec.ID]
		if t == nil {
			return nil, fmt.Errorf("sqlite: tenant %q: %w", rec.ID, hub.ErrNotFound)
		}
		rec = cloneTenant(rec)
		rec.CreatedAt = t.rec.CreatedAt
		if _, err := tx.ExecContext(ctx, `UPDATE tenants SET name = ?, offline_after_ns = ?, max_proxies = ?, auto_register = ?,
			allowlist = ?, admin_allowlist = ?, updated_at = ? WHERE id = ?`,
			rec.Name, int64(rec.OfflineAfter), rec.MaxProxies, boolInt(rec.AutoRegister),
			prefixesText(rec.Allowlist), prefixesText(rec.AdminAllowlist), rec.UpdatedAt.UnixNano(), rec.ID); err != nil {
			return nil, translate(err, what)
		}
		if rec.OfflineAfter == t.rec.OfflineAfter {
			return func() { t.rec = rec }, nil
		}
		// The proxies without a timeout of their own: last heartbeat plus the
		// new timeout.
		timeout := newTenantState(rec).timeout(&proxyRec{})
		var moved []*proxyRec
		for _, p := range t.proxies {
			if p.offlineAfter != 0 {
				continue
			}
			next := *p
			next.deadline = p.lastSeen + int64(timeout)
			if err := s.writeRow(ctx, tx, &next); err != nil {
				return nil, translate(err, what)
			}
			moved = append(moved, p)
		}
		return func() {
			t.rec = rec
			for _, p := range moved {
				p.deadline = p.lastSeen + int64(timeout)
				delete(s.st.dirty, p)
				s.st.queue(t, p)
			}
		}, nil
	})
}

// tenantExists returns ErrNotFound unless the tenant exists.
func (s *Store) tenantExists(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.st.tenants[id] == nil {
		return fmt.Errorf("sqlite: tenant %q: %w", id, hub.ErrNotFound)
	}
	return nil
}

func tenantNotFound(id string) error { return fmt.Errorf("sqlite: tenant %q: %w", id, hub.ErrNotFound) }
