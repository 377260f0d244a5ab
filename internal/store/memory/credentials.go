package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/store"
)

// CreateToken implements store.CredentialStore.
func (s *Store) CreateToken(ctx context.Context, tok store.Token) error {
	t, err := s.tenant(ctx, tok.TenantID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.tokensByHash[tok.Hash]; dup {
		return fmt.Errorf("token: %w", store.ErrConflict)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.tokenByID[tok.ID]; dup {
		return fmt.Errorf("token %q: %w", tok.ID, store.ErrConflict)
	}
	tok.AllowedCIDRs = slices.Clone(tok.AllowedCIDRs)
	p := &tok
	t.tokens = append(t.tokens, p)
	if t.tokenByID == nil {
		t.tokenByID = map[string]*store.Token{}
	}
	t.tokenByID[tok.ID] = p
	s.tokensByHash[tok.Hash] = p
	return nil
}

// TokenByHash implements store.CredentialStore.
func (s *Store) TokenByHash(ctx context.Context, hash string) (store.Token, error) {
	if err := ctx.Err(); err != nil {
		return store.Token{}, err
	}
	s.mu.RLock()
	p := s.tokensByHash[hash]
	s.mu.RUnlock()
	if p == nil {
		return store.Token{}, store.ErrNotFound
	}
	t, err := s.tenant(ctx, p.TenantID)
	if err != nil {
		return store.Token{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return cloneToken(*p), nil
}

// ListTokens implements store.CredentialStore.
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]store.Token, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]store.Token, len(t.tokens))
	for i, p := range t.tokens {
		out[i] = cloneToken(*p)
	}
	return out, nil
}

// RevokeToken implements store.CredentialStore.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.withToken(ctx, tenantID, id, func(p *store.Token) {
		if p.RevokedAt.IsZero() {
			p.RevokedAt = at
		}
	})
}

// TouchToken implements store.CredentialStore.
func (s *Store) TouchToken(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.withToken(ctx, tenantID, id, func(p *store.Token) {
		if at.After(p.LastUsedAt) {
			p.LastUsedAt = at
		}
	})
}

func (s *Store) withToken(ctx context.Context, tenantID, id string, fn func(*store.Token)) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.tokenByID[id]
	if p == nil {
		return fmt.Errorf("token %q: %w", id, store.ErrNotFound)
	}
	fn(p)
	return nil
}

func cloneToken(t store.Token) store.Token {
	t.AllowedCIDRs = slices.Clone(t.AllowedCIDRs)
	return t
}

// CreateCredential implements store.CredentialStore.
func (s *Store) CreateCredential(ctx context.Context, c store.Credential) error {
	t, err := s.tenant(ctx, c.TenantID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.credsByID[c.ID]; dup {
		return fmt.Errorf("credential %q: %w", c.ID, store.ErrConflict)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p := &c
	t.creds = append(t.creds, p)
	s.credsByID[c.ID] = p
	return nil
}

// CredentialByID implements store.CredentialStore.
func (s *Store) CredentialByID(ctx context.Context, id string) (store.Credential, error) {
	if err := ctx.Err(); err != nil {
		return store.Credential{}, err
	}
	s.mu.RLock()
	p := s.credsByID[id]
	s.mu.RUnlock()
	if p == nil {
		return store.Credential{}, store.ErrNotFound
	}
	t, err := s.tenant(ctx, p.TenantID)
	if err != nil {
		return store.Credential{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return *p, nil
}

// ListCredentials implements store.CredentialStore.
func (s *Store) ListCredentials(ctx context.Context, tenantID string) ([]store.Credential, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]store.Credential, len(t.creds))
	for i, p := range t.creds {
		out[i] = *p
	}
	return out, nil
}

// RevokeCredential implements store.CredentialStore.
func (s *Store) RevokeCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.withCredential(ctx, tenantID, id, func(p *store.Credential) {
		if p.RevokedAt.IsZero() {
			p.RevokedAt = at
		}
	})
}

// TouchCredential implements store.CredentialStore.
func (s *Store) TouchCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.withCredential(ctx, tenantID, id, func(p *store.Credential) {
		if at.After(p.LastUsedAt) {
			p.LastUsedAt = at
		}
	})
}

func (s *Store) withCredential(ctx context.Context, tenantID, id string, fn func(*store.Credential)) error {
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
	return fmt.Errorf("credential %q: %w", id, store.ErrNotFound)
}
