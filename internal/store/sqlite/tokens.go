package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// CreateToken implements hub.CredentialStore.
func (s *Store) CreateToken(ctx context.Context, tok hub.Token) error {
	const what = "sqlite: create token"
	return s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		t := s.st.tenants[tok.TenantID]
		switch {
		case t == nil:
			return nil, fmt.Errorf("sqlite: tenant %q: %w", tok.TenantID, hub.ErrNotFound)
		case s.st.tokensByHash[tok.Hash] != nil:
			return nil, fmt.Errorf("sqlite: token: %w", hub.ErrConflict)
		case t.tokenByID[tok.ID] != nil:
			return nil, fmt.Errorf("sqlite: token %q: %w", tok.ID, hub.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO heartbeat_tokens (tenant_id, id, label, hash, proxy, allowed_cidrs, expires_at, created_at, last_used_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			tok.TenantID, tok.ID, tok.Label, tok.Hash, tok.Proxy, prefixesText(tok.AllowedCIDRs),
			nanos(tok.ExpiresAt), tok.CreatedAt.UnixNano(), nanos(tok.LastUsedAt), nanos(tok.RevokedAt)); err != nil {
			return nil, translate(err, what)
		}
		c := cloneToken(tok)
		p := &c
		return func() { s.st.addToken(t, p) }, nil
	})
}

// TokenByHash implements hub.CredentialStore, from memory.
func (s *Store) TokenByHash(ctx context.Context, hash string) (hub.Token, error) {
	if err := ctx.Err(); err != nil {
		return hub.Token{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.st.tokensByHash[hash]
	if p == nil {
		return hub.Token{}, fmt.Errorf("sqlite: token: %w", hub.ErrNotFound)
	}
	return cloneToken(*p), nil
}

// ListTokens implements hub.CredentialStore.
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]hub.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.st.tenants[tenantID]
	if t == nil {
		return nil, fmt.Errorf("sqlite: tenant %q: %w", tenantID, hub.ErrNotFound)
	}
	out := make([]hub.Token, len(t.tokens))
	for i, p := range t.tokens {
		out[i] = cloneToken(*p)
	}
	return out, nil
}

// RevokeToken implements hub.CredentialStore.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.changeToken(ctx, "sqlite: revoke token", tenantID, id,
		`UPDATE heartbeat_tokens SET revoked_at = ? WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL`,
		at, func(p *hub.Token) {
			if p.RevokedAt.IsZero() {
				p.RevokedAt = at
			}
		})
}

// TouchToken implements hub.CredentialStore.
func (s *Store) TouchToken(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.changeToken(ctx, "sqlite: touch token", tenantID, id,
		`UPDATE heartbeat_tokens SET last_used_at = ? WHERE tenant_id = ? AND id = ? AND (last_used_at IS NULL OR last_used_at < ?1)`,
		at, func(p *hub.Token) {
			if at.After(p.LastUsedAt) {
				p.LastUsedAt = at
			}
		})
}

// changeToken runs stmt (parameters: at, tenant, id) on one of the
// tenant's tokens and then change on its copy in memory; ErrNotFound when
// the tenant has no such token.
func (s *Store) changeToken(ctx context.Context, what, tenantID, id, stmt string, at time.Time, change func(*hub.Token)) error {
	return s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		t := s.st.tenants[tenantID]
		if t == nil || t.tokenByID[id] == nil {
			return nil, fmt.Errorf("sqlite: token %q: %w", id, hub.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, stmt, at.UnixNano(), tenantID, id); err != nil {
			return nil, translate(err, what)
		}
		p := t.tokenByID[id]
		return func() { change(p) }, nil
	})
}
