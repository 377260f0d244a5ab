package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// CreateWebhook implements hub.WebhookStore.
func (s *Store) CreateWebhook(ctx context.Context, w hub.Webhook) (hub.Webhook, error) {
	t, err := s.tenant(ctx, w.TenantID)
	if err != nil {
		return hub.Webhook{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range t.webhooks {
		if o.ID == w.ID {
			return hub.Webhook{}, fmt.Errorf("webhook %q: %w", w.ID, hub.ErrConflict)
		}
	}
	w.Events = slices.Clone(w.Events)
	w.Cursor = s.nextID.Load() // only events after creation are delivered
	w.Attempt, w.NextAttemptAt, w.FailingSince = 0, time.Time{}, time.Time{}
	t.webhooks = append(t.webhooks, &w)
	return cloneWebhook(w), nil
}

func cloneWebhook(w hub.Webhook) hub.Webhook {
	w.Events = slices.Clone(w.Events)
	w.Settings = maps.Clone(w.Settings)
	return w
}

func (s *Store) withWebhook(ctx context.Context, tenantID, id string, write bool, fn func(t *tenant, i int)) error {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if write {
		t.mu.Lock()
		defer t.mu.Unlock()
	} else {
		t.mu.RLock()
		defer t.mu.RUnlock()
	}
	for i, w := range t.webhooks {
		if w.ID == id {
			fn(t, i)
			return nil
		}
	}
	return fmt.Errorf("webhook %q: %w", id, hub.ErrNotFound)
}

// GetWebhook implements hub.WebhookStore.
func (s *Store) GetWebhook(ctx context.Context, tenantID, id string) (out hub.Webhook, err error) {
	err = s.withWebhook(ctx, tenantID, id, false, func(t *tenant, i int) { out = cloneWebhook(*t.webhooks[i]) })
	return out, err
}

// ListWebhooks implements hub.WebhookStore.
func (s *Store) ListWebhooks(ctx context.Context, tenantID string) ([]hub.Webhook, error) {
	t, err := s.tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]hub.Webhook, len(t.webhooks))
	for i, w := range t.webhooks {
		out[i] = cloneWebhook(*w)
	}
	return out, nil
}

// UpdateWebhook implements hub.WebhookStore.
func (s *Store) UpdateWebhook(ctx context.Context, w hub.Webhook) (out hub.Webhook, err error) {
	err = s.withWebhook(ctx, w.TenantID, w.ID, true, func(t *tenant, i int) {
		cur := t.webhooks[i]
		cur.URL, cur.Kind, cur.Events, cur.Enabled, cur.UpdatedAt = w.URL, w.Kind, slices.Clone(w.Events), w.Enabled, w.UpdatedAt
		cur.Settings = maps.Clone(w.Settings)
		out = cloneWebhook(*cur)
	})
	return out, err
}

// SetWebhookSecret implements hub.WebhookStore.
func (s *Store) SetWebhookSecret(ctx context.Context, w hub.Webhook) (out hub.Webhook, err error) {
	err = s.withWebhook(ctx, w.TenantID, w.ID, true, func(t *tenant, i int) {
		cur := t.webhooks[i]
		cur.Secret, cur.PreviousSecret, cur.PreviousSecretUntil, cur.UpdatedAt = w.Secret, w.PreviousSecret, w.PreviousSecretUntil, w.UpdatedAt
		out = cloneWebhook(*cur)
	})
	return out, err
}

// DeleteWebhook implements hub.WebhookStore.
func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	return s.withWebhook(ctx, tenantID, id, true, func(t *tenant, i int) {
		t.webhooks = slices.Delete(t.webhooks, i, i+1)
		t.deliveries.items = slices.DeleteFunc(t.deliveries.items, func(d hub.Delivery) bool { return d.WebhookID == id })
	})
}

// DueWebhooks implements hub.WebhookStore.
func (s *Store) DueWebhooks(ctx context.Context, now time.Time) ([]hub.Webhook, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ts := s.allTenants()
	var out []hub.Webhook
	for _, t := range ts {
		t.mu.RLock()
		for _, w := range t.webhooks {
			if !w.Enabled || w.NextAttemptAt.After(now) {
				continue
			}
			if i := len(t.events.items) - 1; i >= 0 && t.events.items[i].ID > w.Cursor {
				out = append(out, cloneWebhook(*w))
			}
		}
		t.mu.RUnlock()
	}
	return out, nil
}

// SaveDeliveryState implements hub.WebhookStore.
func (s *Store) SaveDeliveryState(ctx context.Context, w hub.Webhook) error {
	return s.withWebhook(ctx, w.TenantID, w.ID, true, func(t *tenant, i int) {
		cur := t.webhooks[i]
		cur.Cursor, cur.Attempt, cur.NextAttemptAt, cur.FailingSince = w.Cursor, w.Attempt, w.NextAttemptAt, w.FailingSince
	})
}

// RecordDelivery implements hub.WebhookStore.
func (s *Store) RecordDelivery(ctx context.Context, d hub.Delivery) (int64, error) {
	err := s.withWebhook(ctx, d.TenantID, d.WebhookID, true, func(t *tenant, _ int) {
		d.ID = s.nextID.Add(1)
		t.deliveries.add(d)
	})
	return d.ID, err
}

// ListDeliveries implements hub.WebhookStore.
func (s *Store) ListDeliveries(ctx context.Context, tenantID, webhookID string, beforeID int64, limit int) ([]hub.Delivery, error) {
	out := []hub.Delivery{}
	err := s.withWebhook(ctx, tenantID, webhookID, false, func(t *tenant, _ int) {
		for i := len(t.deliveries.items) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
			if d := t.deliveries.items[i]; d.WebhookID == webhookID && (beforeID == 0 || d.ID < beforeID) {
				out = append(out, d)
			}
		}
	})
	return out, err
}

var (
	_ hub.LivenessStore = (*Store)(nil)
	_ hub.WebhookStore  = (*Store)(nil)
)
