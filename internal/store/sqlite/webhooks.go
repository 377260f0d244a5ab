package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Webhooks and their delivery log are read from the database: the
// dispatcher looks at them about once a second, on this hub only.

const webhookColumns = `tenant_id, id, kind, url, events, enabled, secret, created_at, updated_at, cursor_id, attempt, next_attempt_at, failing_since, previous_secret, previous_secret_until, settings`

func scanWebhook(rows *sql.Rows) (hub.Webhook, error) {
	var w hub.Webhook
	var events string
	var created, updated int64
	var next, failing, prevUntil sql.NullInt64
	var settings string
	err := rows.Scan(&w.TenantID, &w.ID, &w.Kind, &w.URL, &events, &w.Enabled, &w.Secret, &created, &updated,
		&w.Cursor, &w.Attempt, &next, &failing, &w.PreviousSecret, &prevUntil, &settings)
	if err == nil {
		w.Settings, err = settingsFromText(settings)
	}
	w.PreviousSecretUntil = fromNullNanos(prevUntil)
	w.Events, w.CreatedAt, w.UpdatedAt = parseEventTypes(events), fromNanos(created), fromNanos(updated)
	w.NextAttemptAt, w.FailingSince = fromNullNanos(next), fromNullNanos(failing)
	return w, err
}

// queryWebhooks runs a query for webhook rows on db (the reader pool or a
// transaction).
func queryWebhooks(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, where string, args ...any) ([]hub.Webhook, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []hub.Webhook{}
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// CreateWebhook implements hub.WebhookStore. Its cursor is the newest
// event id, so only later events are delivered.
func (s *Store) CreateWebhook(ctx context.Context, w hub.Webhook) (hub.Webhook, error) {
	const what = "sqlite: create webhook"
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		if s.st.tenants[w.TenantID] == nil {
			return nil, tenantNotFound(w.TenantID)
		}
		w.Cursor, w.Attempt, w.NextAttemptAt, w.FailingSince = s.st.seq.event, 0, time.Time{}, time.Time{}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL, ?, ?, ?)`,
			w.TenantID, w.ID, w.Kind, w.URL, eventTypesText(w.Events), boolInt(w.Enabled), w.Secret,
			w.CreatedAt.UnixNano(), w.UpdatedAt.UnixNano(), w.Cursor, w.PreviousSecret, nanos(w.PreviousSecretUntil), settingsText(w.Settings))
		return nil, translate(err, what)
	})
	if err != nil {
		return hub.Webhook{}, err
	}
	return w, nil
}

// GetWebhook implements hub.WebhookStore.
func (s *Store) GetWebhook(ctx context.Context, tenantID, id string) (hub.Webhook, error) {
	if s.isClosed() {
		return hub.Webhook{}, errClosed
	}
	ws, err := queryWebhooks(ctx, s.rdb, `tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return hub.Webhook{}, translate(err, "sqlite: get webhook")
	}
	if len(ws) == 0 {
		return hub.Webhook{}, fmt.Errorf("sqlite: webhook %q: %w", id, hub.ErrNotFound)
	}
	return ws[0], nil
}

// ListWebhooks implements hub.WebhookStore.
func (s *Store) ListWebhooks(ctx context.Context, tenantID string) ([]hub.Webhook, error) {
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return nil, err
	}
	ws, err := queryWebhooks(ctx, s.rdb, `tenant_id = ? ORDER BY rowid`, tenantID)
	return ws, translate(err, "sqlite: list webhooks")
}

// UpdateWebhook implements hub.WebhookStore.
func (s *Store) UpdateWebhook(ctx context.Context, w hub.Webhook) (hub.Webhook, error) {
	return s.rewriteWebhook(ctx, "sqlite: update webhook", w, func(out *hub.Webhook) (string, []any) {
		out.URL, out.Kind, out.Events, out.Enabled, out.UpdatedAt, out.Settings = w.URL, w.Kind, w.Events, w.Enabled, w.UpdatedAt, w.Settings
		return `url = ?, kind = ?, events = ?, enabled = ?, updated_at = ?, settings = ?`,
			[]any{out.URL, out.Kind, eventTypesText(out.Events), boolInt(out.Enabled), out.UpdatedAt.UnixNano(), settingsText(out.Settings)}
	})
}

// SetWebhookSecret implements hub.WebhookStore.
func (s *Store) SetWebhookSecret(ctx context.Context, w hub.Webhook) (hub.Webhook, error) {
	return s.rewriteWebhook(ctx, "sqlite: set webhook secret", w, func(out *hub.Webhook) (string, []any) {
		out.Secret, out.PreviousSecret, out.PreviousSecretUntil, out.UpdatedAt = w.Secret, w.PreviousSecret, w.PreviousSecretUntil, w.UpdatedAt
		return `secret = ?, previous_secret = ?, previous_secret_until = ?, updated_at = ?`,
			[]any{out.Secret, out.PreviousSecret, nanos(out.PreviousSecretUntil), out.UpdatedAt.UnixNano()}
	})
}

// rewriteWebhook reads the stored webhook w names (ErrNotFound when
// missing), lets apply change it and name the columns it set (an UPDATE's
// SET list and its values), writes them, and returns the webhook as
// stored, in one transaction.
func (s *Store) rewriteWebhook(ctx context.Context, what string, w hub.Webhook, apply func(*hub.Webhook) (string, []any)) (hub.Webhook, error) {
	var out hub.Webhook
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		ws, err := queryWebhooks(ctx, tx, `tenant_id = ? AND id = ?`, w.TenantID, w.ID)
		if err != nil {
			return nil, translate(err, what)
		}
		if len(ws) == 0 {
			return nil, fmt.Errorf("sqlite: webhook %q: %w", w.ID, hub.ErrNotFound)
		}
		out = ws[0]
		set, args := apply(&out)
		_, err = tx.ExecContext(ctx, `UPDATE webhooks SET `+set+` WHERE tenant_id = ? AND id = ?`, append(args, w.TenantID, w.ID)...)
		return nil, translate(err, what)
	})
	return out, err
}

// DeleteWebhook implements hub.WebhookStore; its delivery log goes with it.
func (s *Store) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	return s.changeTenantRow(ctx, "sqlite: delete webhook", `DELETE FROM webhooks WHERE tenant_id = ? AND id = ?`, tenantID, id)
}

// DueWebhooks implements hub.WebhookStore.
func (s *Store) DueWebhooks(ctx context.Context, now time.Time) ([]hub.Webhook, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	ws, err := queryWebhooks(ctx, s.rdb, `enabled = 1 AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
		AND EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = webhooks.tenant_id AND e.id > webhooks.cursor_id)
		ORDER BY rowid`, now.UnixNano())
	return ws, translate(err, "sqlite: due webhooks")
}

// SaveDeliveryState implements hub.WebhookStore; ErrNotFound when the
// webhook is gone.
func (s *Store) SaveDeliveryState(ctx context.Context, w hub.Webhook) error {
	return s.changeTenantRow(ctx, "sqlite: save delivery state",
		`UPDATE webhooks SET cursor_id = ?, attempt = ?, next_attempt_at = ?, failing_since = ? WHERE tenant_id = ? AND id = ?`,
		w.Cursor, w.Attempt, nanos(w.NextAttemptAt), nanos(w.FailingSince), w.TenantID, w.ID)
}

// RecordDelivery implements hub.WebhookStore.
func (s *Store) RecordDelivery(ctx context.Context, d hub.Delivery) (int64, error) {
	const what = "sqlite: record delivery"
	var id int64
	err := s.update(ctx, what, func(ctx context.Context, tx *sql.Tx) (func(), error) {
		err := tx.QueryRowContext(ctx, `INSERT INTO webhook_deliveries (tenant_id, webhook_id, at, attempt, status_code, error, first_event_id, last_event_id, events, test, gave_up)
			SELECT tenant_id, id, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM webhooks WHERE tenant_id = ? AND id = ? RETURNING id`,
			d.At.UnixNano(), d.Attempt, d.StatusCode, d.Error, d.FirstEventID, d.LastEventID, d.Events, boolInt(d.Test), boolInt(d.GaveUp),
			d.TenantID, d.WebhookID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("sqlite: webhook %q: %w", d.WebhookID, hub.ErrNotFound)
		}
		return nil, translate(err, what)
	})
	return id, err
}

// ListDeliveries implements hub.WebhookStore.
func (s *Store) ListDeliveries(ctx context.Context, tenantID, webhookID string, beforeID int64, limit int) ([]hub.Delivery, error) {
	const what = "sqlite: list deliveries"
	if _, err := s.GetWebhook(ctx, tenantID, webhookID); err != nil {
		return nil, err
	}
	where, args := `tenant_id = ? AND webhook_id = ?`, []any{tenantID, webhookID}
	if beforeID > 0 {
		where, args = where+` AND id < ?`, append(args, beforeID)
	}
	out := []hub.Delivery{}
	err := scanPages(ctx, s, page{
		sql:   `SELECT id, tenant_id, webhook_id, at, attempt, status_code, error, first_event_id, last_event_id, events, test, gave_up FROM webhook_deliveries WHERE ` + where,
		args:  args,
		limit: limit,
	}, scanDelivery, func(d hub.Delivery) error { out = append(out, d); return nil }, func(d hub.Delivery) int64 { return d.ID })
	if err != nil {
		return nil, translate(err, what)
	}
	return out, nil
}

func scanDelivery(rows *sql.Rows) (hub.Delivery, error) {
	var d hub.Delivery
	var at int64
	err := rows.Scan(&d.ID, &d.TenantID, &d.WebhookID, &at, &d.Attempt, &d.StatusCode, &d.Error,
		&d.FirstEventID, &d.LastEventID, &d.Events, &d.Test, &d.GaveUp)
	d.At = fromNanos(at)
	return d, err
}

var (
	_ hub.LivenessStore = (*Store)(nil)
	_ hub.WebhookStore  = (*Store)(nil)
)

// settingsText encodes a webhook's settings as a JSON object.
func settingsText(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return string(b)
}

// settingsFromText decodes what settingsText wrote; nil for none.
func settingsFromText(s string) (map[string]string, error) {
	var m map[string]string
	if s == "" || s == "{}" {
		return nil, nil
	}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("webhook settings: %w", err)
	}
	return m, nil
}
