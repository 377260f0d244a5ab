package hub

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/proxyhub/proxyhub/internal/secretbox"
)

// MaxWebhookSecretGrace is the longest a rotated-out signing secret keeps
// signing deliveries.
const MaxWebhookSecretGrace = 7 * 24 * time.Hour

// DefaultWebhookSecretGrace is how long a rotated-out secret keeps signing
// when the rotation does not say.
const DefaultWebhookSecretGrace = 24 * time.Hour

// webhookSecretContext binds a sealed secret to its webhook: a sealed
// value copied onto another webhook's row does not open.
func webhookSecretContext(w Webhook) string { return "webhook/" + w.TenantID + "/" + w.ID }

// sealWebhookSecret returns plain sealed for w; "" stays "".
func sealWebhookSecret(box *secretbox.Box, w Webhook, plain string) (string, error) {
	if plain == "" || secretbox.IsSealed(plain) {
		return plain, nil
	}
	return box.Seal(plain, webhookSecretContext(w))
}

// openWebhookSecret returns the secret sealed in v for w; a value stored
// before secrets were sealed is returned as it is.
func openWebhookSecret(box *secretbox.Box, w Webhook, v string) (string, error) {
	if v == "" || !secretbox.IsSealed(v) {
		return v, nil
	}
	return box.Open(v, webhookSecretContext(w))
}

// WebhookSecrets returns the secrets that sign w's deliveries at now, in
// the clear: its secret, then the one a rotation replaced while its grace
// period lasts. Errors (a hub with another key) never contain a secret.
func WebhookSecrets(box *secretbox.Box, w Webhook, now time.Time) ([]string, error) {
	cur, err := openWebhookSecret(box, w, w.Secret)
	if err != nil || cur == "" {
		return nil, err
	}
	out := []string{cur}
	if w.PreviousSecret != "" && now.Before(w.PreviousSecretUntil) {
		// A replaced secret that no longer opens (sealed under a signing
		// key since changed) only loses its second signature.
		if prev, err := openWebhookSecret(box, w, w.PreviousSecret); err == nil {
			out = append(out, prev)
		}
	}
	return out, nil
}

// RotateWebhookSecret gives a signed webhook of the tenant a new signing
// secret, returned in the clear this once with the webhook. For grace
// (0 to MaxWebhookSecretGrace) deliveries carry signatures by both the old
// and the new secret, so the receiver can switch at its own pace; a grace
// of 0 retires the old secret at once.
func (s *Service) RotateWebhookSecret(ctx context.Context, tenantID, id string, grace time.Duration) (Webhook, string, error) {
	if grace < 0 || grace > MaxWebhookSecretGrace {
		return Webhook{}, "", &FieldError{"body.grace_seconds", fmt.Sprintf("must be between 0 and %d", int(MaxWebhookSecretGrace/time.Second))}
	}
	n, err := s.notifierOrErr()
	if err != nil {
		return Webhook{}, "", err
	}
	w, err := s.store.GetWebhook(ctx, tenantID, id)
	if err != nil {
		return Webhook{}, "", err
	}
	plain, err := n.NewSigningSecret(w.Kind)
	if err != nil {
		return Webhook{}, "", fmt.Errorf("signing secret: %w", err)
	}
	if plain == "" {
		return Webhook{}, "", &FieldError{"path.id", w.Kind + " webhooks are not signed: there is no secret to rotate"}
	}
	now := s.timestamp()
	w.PreviousSecret, w.PreviousSecretUntil = "", time.Time{}
	// The replaced secret keeps signing for the grace period, if this hub
	// can still open it (after a change of signing key it cannot, and the
	// rotation is how the webhook recovers).
	if _, oerr := openWebhookSecret(s.secrets, w, w.Secret); grace > 0 && w.Secret != "" && oerr == nil {
		if w.PreviousSecret, err = sealWebhookSecret(s.secrets, w, w.Secret); err != nil {
			return Webhook{}, "", err
		}
		w.PreviousSecretUntil = now.Add(grace)
	}
	if w.Secret, err = sealWebhookSecret(s.secrets, w, plain); err != nil {
		return Webhook{}, "", err
	}
	w.UpdatedAt = now
	w, err = s.store.SetWebhookSecret(ctx, w)
	if err != nil {
		return Webhook{}, "", err
	}
	s.log.InfoContext(ctx, "webhook secret rotated", "tenant", tenantID, "webhook", id, "grace", grace.String())
	return w, plain, nil
}

// SealWebhookSecrets seals every webhook secret still stored in the clear
// (kept by a hub that did not seal them) and reports how many webhooks it
// changed. serve runs it at start-up; it is idempotent.
func (s *Service) SealWebhookSecrets(ctx context.Context) (int, error) {
	tenants, err := s.store.ListTenants(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tenants {
		ws, err := s.store.ListWebhooks(ctx, t.ID)
		if err != nil {
			return n, err
		}
		for _, w := range ws {
			if (w.Secret == "" || secretbox.IsSealed(w.Secret)) && (w.PreviousSecret == "" || secretbox.IsSealed(w.PreviousSecret)) {
				continue
			}
			if w.Secret, err = sealWebhookSecret(s.secrets, w, w.Secret); err != nil {
				return n, err
			}
			if w.PreviousSecret, err = sealWebhookSecret(s.secrets, w, w.PreviousSecret); err != nil {
				return n, err
			}
			if _, err := s.store.SetWebhookSecret(ctx, w); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

var (
	processBoxOnce sync.Once
	processBoxVal  *secretbox.Box
)

// EphemeralSecrets returns a Box with a random key that lives as long as
// the process: the default of Options.Secrets and of the notifier's, so
// that both agree when neither is configured (tests). Secrets it sealed do
// not open after a restart.
func EphemeralSecrets() *secretbox.Box { return processBox() }

// processBox is a Box with a random key that lives as long as the process.
func processBox() *secretbox.Box {
	processBoxOnce.Do(func() {
		key := make([]byte, secretbox.KeySize)
		rand.Read(key)
		var err error
		if processBoxVal, err = secretbox.New(key); err != nil {
			panic(err)
		}
	})
	return processBoxVal
}
