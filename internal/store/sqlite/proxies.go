package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// ListProxies implements hub.ProxyStore, from memory.
func (s *Store) ListProxies(ctx context.Context, tenantID string, q hub.ProxyQuery) ([]hub.Proxy, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	t := s.st.tenants[tenantID]
	if t == nil {
		s.mu.RUnlock()
		return nil, fmt.Errorf("sqlite: tenant %q: %w", tenantID, hub.ErrNotFound)
	}
	out := make([]hub.Proxy, 0, len(t.proxies))
	for name, p := range t.proxies {
		if !strings.HasPrefix(name, q.NamePrefix) || (q.After != "" && name <= q.After) {
			continue
		}
		if !q.DeadlineBefore.IsZero() && p.deadline >= q.DeadlineBefore.UnixNano() {
			continue
		}
		if !q.DeadlineFrom.IsZero() && p.deadline < q.DeadlineFrom.UnixNano() {
			continue
		}
		out = append(out, p.view(tenantID))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b hub.Proxy) int { return cmp.Compare(a.Name, b.Name) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// GetProxy implements hub.ProxyStore, from memory.
func (s *Store) GetProxy(ctx context.Context, tenantID, name string) (hub.Proxy, error) {
	if err := ctx.Err(); err != nil {
		return hub.Proxy{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.st.tenants[tenantID]
	if t == nil {
		return hub.Proxy{}, fmt.Errorf("sqlite: tenant %q: %w", tenantID, hub.ErrNotFound)
	}
	p := t.proxies[name]
	if p == nil {
		return hub.Proxy{}, fmt.Errorf("sqlite: proxy %q: %w", name, hub.ErrNotFound)
	}
	return p.view(tenantID), nil
}

// DeleteProxy implements hub.ProxyStore. The proxy's history stays.
func (s *Store) DeleteProxy(ctx context.Context, tenantID, name string) error {
	const what = "sqlite: delete proxy"
	return s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		p, t, err := s.proxy(tenantID, name)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM proxies WHERE id = ?`, p.id); err != nil {
			return nil, translate(err, what)
		}
		return func() {
			p.deleted = true
			delete(t.proxies, name)
			delete(s.st.dirty, p)
		}, nil
	})
}

// proxy returns the state's record of a proxy and its tenant, or
// ErrNotFound. The writer lock must be held.
func (s *Store) proxy(tenantID, name string) (*proxyRec, *tenantState, error) {
	t := s.st.tenants[tenantID]
	if t == nil {
		return nil, nil, fmt.Errorf("sqlite: tenant %q: %w", tenantID, hub.ErrNotFound)
	}
	p := t.proxies[name]
	if p == nil {
		return nil, nil, fmt.Errorf("sqlite: proxy %q: %w", name, hub.ErrNotFound)
	}
	return p, t, nil
}
