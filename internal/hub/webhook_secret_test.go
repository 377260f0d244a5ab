package hub

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/secretbox"
)

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWebhookSecrets_CurrentThenPreviousDuringGrace(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	hubKey, oldKey := newBox(t), newBox(t)
	w := Webhook{TenantID: "acme", ID: "wh_1"}
	seal := func(b *secretbox.Box, plain string) string {
		v, err := sealWebhookSecret(b, w, plain)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name          string
		secret, prev  string
		until         time.Time
		want          []string
		wantErrSubstr string
	}{
		{"sealed, no rotation", seal(hubKey, "whsec_new"), "", time.Time{}, []string{"whsec_new"}, ""},
		{"within grace", seal(hubKey, "whsec_new"), seal(hubKey, "whsec_old"), now.Add(time.Minute), []string{"whsec_new", "whsec_old"}, ""},
		{"grace over", seal(hubKey, "whsec_new"), seal(hubKey, "whsec_old"), now, []string{"whsec_new"}, ""},
		{"stored in the clear", "whsec_plain", "", time.Time{}, []string{"whsec_plain"}, ""},
		{"previous sealed under another key", seal(hubKey, "whsec_new"), seal(oldKey, "whsec_old"), now.Add(time.Minute), []string{"whsec_new"}, ""},
		{"current sealed under another key", seal(oldKey, "whsec_new"), "", time.Time{}, nil, "sealed with key"},
		{"copied from another webhook", func() string {
			v, _ := sealWebhookSecret(hubKey, Webhook{TenantID: "globex", ID: "wh_1"}, "whsec_x")
			return v
		}(), "", time.Time{}, nil, "does not open"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := w
			w.Secret, w.PreviousSecret, w.PreviousSecretUntil = tc.secret, tc.prev, tc.until
			got, err := WebhookSecrets(hubKey, w, now)
			if tc.wantErrSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSubstr) || strings.Contains(err.Error(), "whsec_") {
					t.Fatalf("WebhookSecrets = %q, %v; want an error with %q naming no secret", got, err, tc.wantErrSubstr)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("WebhookSecrets = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
