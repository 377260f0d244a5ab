package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// CreateWindow implements hub.MaintenanceStore.
func (s *Store) CreateWindow(ctx context.Context, w hub.MaintenanceWindow) error {
	t, err := s.tenant(ctx, w.TenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if slices.ContainsFunc(t.windows, func(o hub.MaintenanceWindow) bool { return o.ID == w.ID }) {
		return fmt.Errorf("window %q: %w", w.ID, hub.ErrConflict)
	}
	t.windows = append(t.windows, w)
	return nil
}

// ListWindows implements hub.MaintenanceStore.
func (s *Store) ListWindows(ctx context.Context, tenantID string) ([]hub.MaintenanceWindow, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return slices.Clone(t.windows), nil
}

// SetWindowTimes implements hub.MaintenanceStore.
func (s *Store) SetWindowTimes(ctx context.Context, w hub.MaintenanceWindow) error {
	return s.withWindow(ctx, w.TenantID, w.ID, func(t *tenant, i int) {
		t.windows[i].EndedAt, t.windows[i].FollowedUpTo = w.EndedAt, w.FollowedUpTo
	})
}

// DeleteWindow implements hub.MaintenanceStore.
func (s *Store) DeleteWindow(ctx context.Context, tenantID, id string) error {
	return s.withWindow(ctx, tenantID, id, func(t *tenant, i int) {
		t.windows = slices.Delete(t.windows, i, i+1)
	})
}

func (s *Store) withWindow(ctx context.Context, tenantID, id string, fn func(t *tenant, i int)) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	i := slices.IndexFunc(t.windows, func(w hub.MaintenanceWindow) bool { return w.ID == id })
	if i < 0 {
		return fmt.Errorf("window %q: %w", id, hub.ErrNotFound)
	}
	fn(t, i)
	return nil
}

// AppendOfflineEvents implements hub.MaintenanceStore.
func (s *Store) AppendOfflineEvents(ctx context.Context, tenantID string, events []hub.Event) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range events {
		s.appendEvent(t, hub.Event{Type: hub.EventOffline, Proxy: e.Proxy, At: e.At, NewIP: e.NewIP})
	}
	return nil
}
