package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/proxyhub/proxyhub/internal/hub"
)

const webhookColumns = `tenant_id, id, kind, url, events, enabled, secret, created_at, updated_at,
	cursor_id, attempt, next_attempt_at, failing_since, previous_secret, previous_secret_until, settings`

func scanWebhook(row pgx.Row) (hub.Webhook, error) {
	var w hub.Webhook
	var events []string
	var next, failing, prevUntil pgtype.Timestamptz
	err := row.Scan(&w.TenantID, &w.ID, &w.Kind, &w.URL, &events, &w.Enabled, &w.Secret, &w.CreatedAt, &w.UpdatedAt,
		&w.Cursor, &w.Attempt, &next, &failing, &w.PreviousSecret, &prevUntil, &w.Settings)
	if len(w.Settings) == 0 {
		w.Settings = nil
	}
	w.PreviousSecretUntil = fromTimestamptz(prevUntil)
	for _, e := range events {
		w.Events = append(w.Events, hub.EventType(e))
	}
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	w.NextAttemptAt, w.FailingSince = fromTimestamptz(next), fromTimestamptz(failing)
	return w, err
}

// eventTypeStrings encodes event types for a text[] column (never NULL).
func eventTypeStrings(ts []hub.EventType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// queueWebhookRow adds a query of one webhook row that fills *w.
func queueWebhookRow(b *pgx.Batch, w *hub.Webhook, sql string, args ...any) {
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) (err error) {
		*w, err = scanWebhook(row)
		return err
	})
}

// CreateWebhook implements hub.WebhookStore. The cursor starts at the
// tenant's newest event id (0: none), read in the same statement: an event
// of the tenant not yet committed will have a higher id (events.go), so it
// is delivered, and nothing before is replayed. A missing tenant is
// hub.ErrNotFound, a duplicate id hub.ErrConflict.
func (s *Store) CreateWebhook(ctx context.Context, w hub.Webhook) (hub.Webhook, error) {
	var out hub.Webhook
	err := s.inScope(ctx, tenantScope(w.TenantID), fmt.Sprintf("postgres: create webhook %q", w.ID), func(b *pgx.Batch) {
		queueWebhookRow(b, &out, `
			INSERT INTO webhooks (tenant_id, id, kind, url, events, enabled, secret, created_at, updated_at, settings, cursor_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, (SELECT coalesce(max(id), 0) FROM events WHERE tenant_id = $1))
			RETURNING `+webhookColumns,
			w.TenantID, w.ID, w.Kind, w.URL, eventTypeStrings(w.Events), w.Enabled, w.Secret, w.CreatedAt, w.UpdatedAt, settingsOf(w))
	})
	return out, err
}

// GetWebhook implements hub.WebhookStore.
func (s *Store) GetWebhook(ctx context.Context, tenantID, id string) (hub.Webhook, error) {
	var out hub.Webhook
	err := s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: webhook %q", id), func(b *pgx.Batch) {
		queueWebhookRow(b, &out, `SELECT `+webhookColumns+` FROM webhooks WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	})
	return out, err
}

// ListWebhooks implements hub.WebhookStore: oldest first (creation
// order).
func (s *Store) ListWebhooks(ctx context.Context, tenantID string) ([]hub.Webhook, error) {
	return listOfTenant(ctx, s, tenantID, "webhooks", `SELECT `+webhookColumns+` FROM webhooks WHERE tenant_id = $1 ORDER BY seq`, scanWebhook)
}

// UpdateWebhook implements hub.WebhookStore: URL, Kind, Events, Enabled
// and UpdatedAt; not the secret nor the delivery state.
func (s *Store) UpdateWebhook(ctx context.Context, w hub.Webhook) (hub.Webhook, error) {
	var out hub.Webhook
	err := s.inScope(ctx, tenantScope(w.TenantID), fmt.Sprintf("postgres: update webhook %q", w.ID), func(b *pgx.Batch) {
		queueWebhookRow(b, &out, `
			UPDATE webhooks SET url = $3, kind = $4, events = $5, enabled = $6, updated_at = $7, settings = $8
			 WHERE tenant_id = $1 AND id = $2
			RETURNING `+webhookColumns,
			w.TenantID, w.ID, w.URL, w.Kind, eventTypeStrings(w.Events), w.Enabled, w.UpdatedAt, settingsOf(w))
	})
	return out, err
}

// SetWebhookSecret implements hub.WebhookStore.
func (s *Store) SetWebhookSecret(ctx context.Context, w hub.Webhook) (hub.Webhook, error) {
	var out hub.Webhook
	err := s.inScope(ctx, tenantScope(w.TenantID), fmt.Sprintf("postgres: set webhook secret %q", w.ID), func(b *pgx.Batch) {
		queueWebhookRow(b, &out, `
			UPDATE webhooks SET secret = $3, previous_secret = $4, previous_secret_until = $5, updated_at = $6
			 WHERE tenant_id = $1 AND id = $2
			RETURNING `+webhookColumns,
			w.TenantID, w.ID, w.Secret, w.PreviousSecret, timestamptz(w.PreviousSecretUntil), w.UpdatedAt)
	})
	return out, err
}

// DeleteWebhook implements hub.WebhookStore. Its delivery log goes with
// it (ON DELETE CASCADE, the one deletion the log allows; migrations/005).
func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	return s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: delete webhook %q", id), func(b *pgx.Batch) {
		b.Queue(`DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2`, tenantID, id).Exec(affectedOne)
	})
}

// DueWebhooks implements hub.WebhookStore, across tenants in the
// read-only dispatcher scope: enabled webhooks whose next attempt is due
// and whose tenant has an event after their cursor (one probe of
// events_tenant per webhook).
func (s *Store) DueWebhooks(ctx context.Context, now time.Time) ([]hub.Webhook, error) {
	out := []hub.Webhook{}
	err := s.inScope(ctx, dispatcherScope, "postgres: due webhooks", func(b *pgx.Batch) {
		b.Queue(`SELECT `+webhookColumns+` FROM webhooks w
			  WHERE w.enabled AND (w.next_attempt_at IS NULL OR w.next_attempt_at <= $1)
			    AND EXISTS (SELECT FROM events e WHERE e.tenant_id = w.tenant_id AND e.id > w.cursor_id)
			  ORDER BY w.tenant_id, w.seq`, now).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				w, err := scanWebhook(rows)
				if err != nil {
					return err
				}
				out = append(out, w)
			}
			return rows.Err()
		})
	})
	return out, err
}

// SaveDeliveryState implements hub.WebhookStore; hub.ErrNotFound when
// the webhook no longer exists.
func (s *Store) SaveDeliveryState(ctx context.Context, w hub.Webhook) error {
	return s.inScope(ctx, tenantScope(w.TenantID), fmt.Sprintf("postgres: save delivery state of webhook %q", w.ID), func(b *pgx.Batch) {
		b.Queue(`UPDATE webhooks SET cursor_id = $3, attempt = $4, next_attempt_at = $5, failing_since = $6
			  WHERE tenant_id = $1 AND id = $2`,
			w.TenantID, w.ID, w.Cursor, w.Attempt, timestamptz(w.NextAttemptAt), timestamptz(w.FailingSince),
		).Exec(affectedOne)
	})
}

// RecordDelivery implements hub.WebhookStore; hub.ErrNotFound when the
// webhook does not exist (or is deleted meanwhile: the foreign key then
// refuses the row).
func (s *Store) RecordDelivery(ctx context.Context, d hub.Delivery) (int64, error) {
	var id int64
	err := s.inScope(ctx, tenantScope(d.TenantID), fmt.Sprintf("postgres: record delivery of webhook %q", d.WebhookID), func(b *pgx.Batch) {
		b.Queue(`INSERT INTO webhook_deliveries (tenant_id, webhook_id, at, attempt, status_code, error,
			                                first_event_id, last_event_id, events, test, gave_up)
			 SELECT tenant_id, id, $3, $4, $5, $6, $7, $8, $9, $10, $11
			   FROM webhooks WHERE tenant_id = $1 AND id = $2
			 RETURNING id`,
			d.TenantID, d.WebhookID, d.At, d.Attempt, d.StatusCode, d.Error,
			d.FirstEventID, d.LastEventID, d.Events, d.Test, d.GaveUp,
		).QueryRow(func(row pgx.Row) error { return row.Scan(&id) })
	})
	return id, err
}

// ListDeliveries implements hub.WebhookStore: newest first, ids below
// beforeID (0: from the newest), at most limit (0: all).
func (s *Store) ListDeliveries(ctx context.Context, tenantID, webhookID string, beforeID int64, limit int) ([]hub.Delivery, error) {
	w := &where{}
	w.add("tenant_id = $?", tenantID)
	w.add("webhook_id = $?", webhookID)
	if beforeID > 0 {
		w.add("id < $?", beforeID)
	}
	sql := `SELECT id, tenant_id, webhook_id, at, attempt, status_code, error, first_event_id, last_event_id, events, test, gave_up
	          FROM webhook_deliveries WHERE ` + w.String() + ` ORDER BY id DESC` + w.limit(limit)
	out := []hub.Delivery{}
	var exists bool
	err := s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: deliveries of webhook %q", webhookID), func(b *pgx.Batch) {
		b.Queue(`SELECT EXISTS (SELECT FROM webhooks WHERE tenant_id = $1 AND id = $2)`, tenantID, webhookID).QueryRow(func(row pgx.Row) error {
			return row.Scan(&exists)
		})
		b.Queue(sql, w.args...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var d hub.Delivery
				if err := rows.Scan(&d.ID, &d.TenantID, &d.WebhookID, &d.At, &d.Attempt, &d.StatusCode, &d.Error,
					&d.FirstEventID, &d.LastEventID, &d.Events, &d.Test, &d.GaveUp); err != nil {
					return err
				}
				d.At = d.At.UTC()
				out = append(out, d)
			}
			return rows.Err()
		})
	})
	if err == nil && !exists {
		err = fmt.Errorf("postgres: webhook %q: %w", webhookID, hub.ErrNotFound)
	}
	return out, err
}

var (
	_ hub.LivenessStore = (*Store)(nil)
	_ hub.WebhookStore  = (*Store)(nil)
)

// settingsOf is w's settings for the jsonb column: {} when none.
func settingsOf(w hub.Webhook) map[string]string {
	if w.Settings == nil {
		return map[string]string{}
	}
	return w.Settings
}
