package hub

import (
	"context"
	"fmt"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// Notifier delivers notifications (internal/notify): it knows the webhook
// kinds, what a valid destination of each is, and which kinds are signed.
type Notifier interface {
	// CheckTarget validates a webhook's kind, URL and settings; a
	// *FieldError names what is wrong.
	CheckTarget(kind, url string, settings map[string]string) error
	// CheckCredential validates the credential of a target of kind ("" is
	// fine when the kind needs none).
	CheckCredential(kind, credential string) error
	// TakesCredential reports whether targets of kind keep a credential.
	TakesCredential(kind string) bool
	// ShownURL is a target's URL as the API shows it: the scheme and host
	// only when the URL is itself a credential (a chat webhook's).
	ShownURL(kind, url string) string
	// NewSigningSecret returns a new signing secret for a webhook of kind,
	// or "" when that kind is not signed.
	NewSigningSecret(kind string) (string, error)
	// SendTest sends a test message to w now and returns the attempt.
	SendTest(ctx context.Context, w Webhook) (Delivery, error)
}

// NewWebhook is what a webhook creation asks for.
type NewWebhook struct {
	Kind     string
	URL      string
	Events   []string // event type names; empty: every type
	Enabled  bool
	Settings map[string]string
	// Credential is the kind's secret (a bot token, a routing key), kept
	// sealed and never shown again.
	Credential string
}

// WebhookChange is a webhook update; nil leaves a field as it is.
type WebhookChange struct {
	URL      *string
	Events   []string // nil: unchanged
	Enabled  *bool
	Settings map[string]string // nil: unchanged; replaces them all
	// Credential replaces the kind's credential when set.
	Credential *string
}

// notifierOrErr returns the notifier, or an error when the hub has none.
func (s *Service) notifierOrErr() (Notifier, error) {
	if s.notifier == nil {
		return nil, fmt.Errorf("hub: no notifier configured")
	}
	return s.notifier, nil
}

// CreateWebhook validates and stores a new webhook of the tenant; its
// signing secret (generic webhooks) is in the returned record in the
// clear, shown once; the store keeps it sealed.
// It delivers only events that happen after its creation.
func (s *Service) CreateWebhook(ctx context.Context, tenantID string, in NewWebhook) (Webhook, error) {
	n, err := s.notifierOrErr()
	if err != nil {
		return Webhook{}, err
	}
	if err := n.CheckTarget(in.Kind, in.URL, in.Settings); err != nil {
		return Webhook{}, err
	}
	if err := n.CheckCredential(in.Kind, in.Credential); err != nil {
		return Webhook{}, err
	}
	types, err := ParseEventTypes("body.events", in.Events)
	if err != nil {
		return Webhook{}, err
	}
	if _, err := s.store.GetTenant(ctx, tenantID); err != nil {
		return Webhook{}, fmt.Errorf("tenant: %w", err)
	}
	now := s.now()
	w := Webhook{ID: auth.NewID("wh_"), TenantID: tenantID, Kind: in.Kind, URL: in.URL, Events: types,
		Enabled: in.Enabled, Settings: in.Settings, CreatedAt: now, UpdatedAt: now}
	plain, err := n.NewSigningSecret(in.Kind)
	if err != nil {
		return Webhook{}, fmt.Errorf("signing secret: %w", err)
	}
	if n.TakesCredential(in.Kind) {
		plain = in.Credential // kept sealed like a signing secret
	}
	if w.Secret, err = sealWebhookSecret(s.secrets, w, plain); err != nil {
		return Webhook{}, err
	}
	if w, err = s.store.CreateWebhook(ctx, w); err != nil {
		return Webhook{}, err
	}
	if n.TakesCredential(in.Kind) {
		plain = "" // a credential is never shown again, not even now
	}
	w.Secret = plain
	return w, nil
}

// Webhooks returns the tenant's webhooks, oldest first.
func (s *Service) Webhooks(ctx context.Context, tenantID string) ([]Webhook, error) {
	return s.store.ListWebhooks(ctx, tenantID)
}

// Webhook returns one webhook of the tenant, or ErrNotFound.
func (s *Service) Webhook(ctx context.Context, tenantID, id string) (Webhook, error) {
	return s.store.GetWebhook(ctx, tenantID, id)
}

// UpdateWebhook applies a change to a webhook of the tenant.
func (s *Service) UpdateWebhook(ctx context.Context, tenantID, id string, c WebhookChange) (Webhook, error) {
	w, err := s.store.GetWebhook(ctx, tenantID, id)
	if err != nil {
		return Webhook{}, err
	}
	n, err := s.notifierOrErr()
	if err != nil {
		return Webhook{}, err
	}
	if c.URL != nil {
		w.URL = *c.URL
	}
	if c.Settings != nil {
		w.Settings = c.Settings
	}
	if c.URL != nil || c.Settings != nil {
		if err := n.CheckTarget(w.Kind, w.URL, w.Settings); err != nil {
			return Webhook{}, err
		}
	}
	if c.Credential != nil {
		if !n.TakesCredential(w.Kind) {
			return Webhook{}, &FieldError{"body.credential", w.Kind + " targets take no credential"}
		}
		if err := n.CheckCredential(w.Kind, *c.Credential); err != nil {
			return Webhook{}, err
		}
	}
	if c.Events != nil {
		if w.Events, err = ParseEventTypes("body.events", c.Events); err != nil {
			return Webhook{}, err
		}
	}
	if c.Enabled != nil {
		w.Enabled = *c.Enabled
	}
	w.UpdatedAt = s.now()
	if c.Credential != nil {
		if w.Secret, err = sealWebhookSecret(s.secrets, w, *c.Credential); err != nil {
			return Webhook{}, err
		}
		w.PreviousSecret, w.PreviousSecretUntil = "", time.Time{}
		if _, err := s.store.SetWebhookSecret(ctx, w); err != nil {
			return Webhook{}, err
		}
	}
	return s.store.UpdateWebhook(ctx, w)
}

// DeleteWebhook removes a webhook of the tenant with its delivery log.
func (s *Service) DeleteWebhook(ctx context.Context, tenantID, id string) error {
	return s.store.DeleteWebhook(ctx, tenantID, id)
}

// TestWebhook sends a test message to a webhook of the tenant now and
// returns the attempt (a failed send is in its Error and StatusCode).
func (s *Service) TestWebhook(ctx context.Context, tenantID, id string) (Delivery, error) {
	n, err := s.notifierOrErr()
	if err != nil {
		return Delivery{}, err
	}
	w, err := s.store.GetWebhook(ctx, tenantID, id)
	if err != nil {
		return Delivery{}, err
	}
	return n.SendTest(ctx, w)
}

// Deliveries returns a page of a webhook's delivery log, newest first: at
// most limit entries with ids below beforeID (0: from the newest); more is
// true when another page follows.
func (s *Service) Deliveries(ctx context.Context, tenantID, webhookID string, beforeID int64, limit int) (page []Delivery, more bool, err error) {
	ds, err := s.store.ListDeliveries(ctx, tenantID, webhookID, beforeID, limit+1)
	if err != nil {
		return nil, false, err
	}
	if len(ds) > limit {
		return ds[:limit], true, nil
	}
	return ds, false, nil
}

// ShownWebhookURL is w's URL as the API may show it (Notifier.ShownURL);
// without a notifier, nothing.
func (s *Service) ShownWebhookURL(w Webhook) string {
	if s.notifier == nil {
		return ""
	}
	return s.notifier.ShownURL(w.Kind, w.URL)
}
