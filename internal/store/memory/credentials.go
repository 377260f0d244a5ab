package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// CreateToken implements hub.CredentialStore.
func (s *Store) CreateToken(ctx context.Context, tok hub.Token) error {
	t, err := s.tenant(ctx, tok.TenantID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tokensByHash[tok.Hash]; dup {
		return fmt.Errorf("token: %w", hub.ErrConflict)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.tokenByID[tok.ID]; dup {
		return fmt.Errorf("token %q: %w", tok.ID, hub.ErrConflict)
	}
	tok.AllowedCIDRs = slices.Clone(tok.AllowedCIDRs)
	p := &tok
	t.tokens = append(t.tokens, p)
	if t.tokenByID == nil {
		t.tokenByID = map[string]*hub.Token{}
	}
	t.tokenByID[tok.ID] = p
	s.tokensByHash[tok.Hash] = p
	return nil
}

// TokenByHash implements hub.CredentialStore.
func (s *Store) TokenByHash(ctx context.Context, hash string) (hub.Token, error) {
	if err := ctx.Err(); err != nil {
		return hub.Token{}, err
	}
	s.mu.RLock()
	p := s.tokensByHash[hash]
	s.mu.RUnlock()
	if p == nil {
		return hub.Token{}, hub.ErrNotFound
	}
	t, err := s.tenant(ctx, p.TenantID)
	if err != nil {
		return hub.Token{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return cloneToken(*p), nil
}

// ListTokens implements hub.CredentialStore.
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]hub.Token, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]hub.Token, len(t.tokens))
	for i, p := range t.tokens {
		out[i] = cloneToken(*p)
	}
	return out, nil
}

// RevokeToken implements hub.CredentialStore.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.withToken(ctx, tenantID, id, func(p *hub.Token) {
		if p.RevokedAt.IsZero() {
			p.RevokedAt = at
		}
	})
}

// TouchToken implements hub.CredentialStore.
func (s *Store) TouchToken(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.withToken(ctx, tenantID, id, func(p *hub.Token) {
		if at.After(p.LastUsedAt) {
			p.LastUsedAt = at
		}
	})
}

func (s *Store) withToken(ctx context.Context, tenantID, id string, fn func(*hub.Token)) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.tokenByID[id]
	if p == nil {
		return fmt.Errorf("token %q: %w", id, hub.ErrNotFound)
	}
	fn(p)
	return nil
}

func cloneToken(t hub.Token) hub.Token {
	t.AllowedCIDRs = slices.Clone(t.AllowedCIDRs)
	return t
}

// CreateCredential implements hub.CredentialStore.
func (s *Store) CreateCredential(ctx context.Context, c hub.Credential) error {
	t, err := s.tenant(ctx, c.TenantID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.credsByID[c.ID]; dup {
		return fmt.Errorf("credential %q: %w", c.ID, hub.ErrConflict)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &c
	t.creds = append(t.creds, p)
	s.credsByID[c.ID] = p
	return nil
}

// CredentialByID implements hub.CredentialStore.
func (s *Store) CredentialByID(ctx context.Context, id string) (hub.Credential, error) {
	if err := ctx.Err(); err != nil {
		return hub.Credential{}, err
	}
	s.mu.RLock()
	p := s.credsByID[id]
	s.mu.RUnlock()
	if p == nil {
		return hub.Credential{}, hub.ErrNotFound
	}
	t, err := s.tenant(ctx, p.TenantID)
	if err != nil {
		return hub.Credential{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return *p, nil
}

// ListCredentials implements hub.CredentialStore.
func (s *Store) ListCredentials(ctx context.Context, tenantID string) ([]hub.Credential, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]hub.Credential, len(t.creds))
	for i, p := range t.creds {
		out[i] = *p
	}
	return out, nil
}

// RevokeCredential implements hub.CredentialStore.
func (s *Store) RevokeCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.withCredential(ctx, tenantID, id, func(p *hub.Credential) {
		if p.RevokedAt.IsZero() {
			p.RevokedAt = at
		}
	})
}

// TouchCredential implements hub.CredentialStore.
func (s *Store) TouchCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.withCredential(ctx, tenantID, id, func(p *hub.Credential) {
		if at.After(p.LastUsedAt) {
			p.LastUsedAt = at
		}
	})
}

func (s *Store) withCredential(ctx context.Context, tenantID, id string, fn func(*hub.Credential)) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.creds {
		if p.ID == id {
			fn(p)
			return nil
		}
	}
	return fmt.Errorf("credential %q: %w", id, hub.ErrNotFound)
}
