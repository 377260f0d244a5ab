package hub

import (
	"context"
	"time"
)

// Webhook is a tenant's notification target. The dispatcher keeps its
// delivery position (Cursor) and retry state in it.
type Webhook struct {
	ID       string
	TenantID string
	Kind     string // generic, slack or email
	URL      string // http(s) URL; for email, mailto:address
	Events   []EventType
	Enabled  bool
	// Settings are the kind's other, non-secret settings (a Telegram chat
	// id, a Matrix room, an Opsgenie region…); the kind's credential (a bot
	// token, a routing key) is kept in Secret.
	Settings map[string]string
	// Secret signs generic deliveries (Standard Webhooks). The hub keeps
	// it sealed (secretbox, bound to the webhook: see WebhookSecrets); the
	// API shows it in the clear only when it is created or rotated.
	Secret string
	// PreviousSecret is the secret a rotation replaced, sealed like Secret:
	// deliveries are signed with both until PreviousSecretUntil, so
	// receivers can switch keys without losing a message.
	PreviousSecret      string
	PreviousSecretUntil time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time

	// Cursor is the id of the last event delivered (or given up on); new
	// webhooks start at the newest event, so history is not replayed.
	Cursor int64
	// Attempt counts consecutive failed attempts at the batch after Cursor.
	Attempt int
	// NextAttemptAt is when the dispatcher may try again (zero: now).
	NextAttemptAt time.Time
	// FailingSince is when the current run of failures began (zero: healthy).
	FailingSince time.Time
}

// Delivery is one attempt to deliver a batch of events to a webhook.
type Delivery struct {
	ID           int64
	TenantID     string
	WebhookID    string
	At           time.Time
	Attempt      int    // 1 for the first try of a batch
	StatusCode   int    // HTTP status, 0 when none (network error, email)
	Error        string // empty on success
	FirstEventID int64
	LastEventID  int64
	Events       int  // how many events the message carried
	Test         bool // sent by the test operation
	GaveUp       bool // retries exhausted, or the receiver refused it: the batch was skipped
	// Response is the start of the receiver's answer, reported by the test
	// operation only (never kept in the delivery log).
	Response string
}

// WebhookStore keeps webhooks and their delivery log.
type WebhookStore interface {
	// CreateWebhook stores a new webhook; its Cursor is set by the store
	// to the newest event id, so only later events are delivered.
	CreateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	// GetWebhook returns one webhook of the tenant, or ErrNotFound.
	GetWebhook(ctx context.Context, tenantID, id string) (Webhook, error)
	// ListWebhooks returns the tenant's webhooks, oldest first.
	ListWebhooks(ctx context.Context, tenantID string) ([]Webhook, error)
	// UpdateWebhook replaces URL, Kind, Events, Enabled and Settings (not the secret or
	// the delivery state); ErrNotFound when missing.
	UpdateWebhook(ctx context.Context, w Webhook) (Webhook, error)
	// SetWebhookSecret replaces Secret, PreviousSecret, PreviousSecretUntil
	// and UpdatedAt of w (nothing else); ErrNotFound when missing.
	SetWebhookSecret(ctx context.Context, w Webhook) (Webhook, error)
	// DeleteWebhook removes a webhook and its delivery log.
	DeleteWebhook(ctx context.Context, tenantID, id string) error

	// DueWebhooks returns, across tenants, the enabled webhooks whose
	// NextAttemptAt is at or before now and that have events after their
	// Cursor (for the dispatcher, which runs on the leader only).
	DueWebhooks(ctx context.Context, now time.Time) ([]Webhook, error)
	// SaveDeliveryState stores Cursor, Attempt, NextAttemptAt and
	// FailingSince of w after an attempt, only if the webhook still exists.
	SaveDeliveryState(ctx context.Context, w Webhook) error
	// RecordDelivery appends to a webhook's delivery log.
	RecordDelivery(ctx context.Context, d Delivery) (int64, error)
	// ListDeliveries returns a webhook's delivery log, newest first, at most
	// limit entries with ids below beforeID (0: from the newest).
	ListDeliveries(ctx context.Context, tenantID, webhookID string, beforeID int64, limit int) ([]Delivery, error)
}
