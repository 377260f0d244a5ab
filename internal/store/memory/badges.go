package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// CreateBadge implements hub.BadgeStore.
func (s *Store) CreateBadge(ctx context.Context, b hub.Badge) error {
	t, err := s.tenant(ctx, b.TenantID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.badgesByHash[b.KeyHash]; dup {
		return fmt.Errorf("badge: %w", hub.ErrConflict)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range t.badges {
		if o.ID == b.ID {
			return fmt.Errorf("badge %q: %w", b.ID, hub.ErrConflict)
		}
	}
	if s.badgesByHash == nil {
		s.badgesByHash = map[string]*hub.Badge{}
	}
	p := &b
	t.badges = append(t.badges, p)
	s.badgesByHash[b.KeyHash] = p
	return nil
}

// BadgeByKeyHash implements hub.BadgeStore.
func (s *Store) BadgeByKeyHash(ctx context.Context, hash string) (hub.Badge, error) {
	if err := ctx.Err(); err != nil {
		return hub.Badge{}, err
	}
	s.mu.RLock()
	p := s.badgesByHash[hash]
	s.mu.RUnlock()
	if p == nil {
		return hub.Badge{}, hub.ErrNotFound
	}
	t, err := s.tenant(ctx, p.TenantID)
	if err != nil {
		return hub.Badge{}, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return *p, nil
}

// ListBadges implements hub.BadgeStore.
func (s *Store) ListBadges(ctx context.Context, tenantID string) ([]hub.Badge, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]hub.Badge, len(t.badges))
	for i, p := range t.badges {
		out[i] = *p
	}
	return out, nil
}

// RevokeBadge implements hub.BadgeStore.
func (s *Store) RevokeBadge(ctx context.Context, tenantID, id string, at time.Time) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.badges {
		if p.ID == id {
			if p.RevokedAt.IsZero() {
				p.RevokedAt = at
			}
			return nil
		}
	}
	return fmt.Errorf("badge %q: %w", id, hub.ErrNotFound)
}
