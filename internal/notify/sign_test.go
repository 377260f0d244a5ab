package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secrets %q %q", a, b)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if err != nil || len(key) != 32 {
		t.Fatalf("key: %d bytes, %v", len(key), err)
	}
}

func signedHeader(t *testing.T, secret, id string, ts time.Time, body []byte) http.Header {
	t.Helper()
	sig, err := Sign(secret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", sig)
	return h
}

func TestSignMatchesIndependentComputation(t *testing.T) {
	secret, _ := NewSecret()
	body := []byte(`{"type":"proxyhub.events"}`)
	sig, err := Sign(secret, "wh_1:5-9", t0, body)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("wh_1:5-9." + strconv.FormatInt(t0.Unix(), 10) + "." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if sig != want {
		t.Fatalf("signature %q, independent computation %q", sig, want)
	}
	// The published test vector of the Standard Webhooks specification.
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil || got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("spec vector: %q %v", got, err)
	}
}

func TestVerify(t *testing.T) {
	secret, _ := NewSecret()
	other, _ := NewSecret()
	body := []byte(`{"type":"proxyhub.events","tenant":"acme"}`)
	h := signedHeader(t, secret, "wh_1:1-1", t0, body)

	if err := Verify(secret, h, body, t0.Add(time.Minute)); err != nil {
		t.Fatalf("valid message refused: %v", err)
	}
	// Several signatures (key rotation): any one matching is enough.
	multi := h.Clone()
	multi.Set("webhook-signature", "v1,AAAA "+h.Get("webhook-signature"))
	if err := Verify(secret, multi, body, t0); err != nil {
		t.Fatalf("rotated signatures refused: %v", err)
	}
	cases := []struct {
		name   string
		secret string
		header http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"tampered body", secret, h, []byte(`{"type":"proxyhub.events","tenant":"evil"}`), t0, ErrSignatureMismatch},
		{"wrong secret", other, h, body, t0, ErrSignatureMismatch},
		{"old timestamp", secret, h, body, t0.Add(6 * time.Minute), ErrMessageTooOld},
		{"future timestamp", secret, h, body, t0.Add(-6 * time.Minute), ErrMessageTooNew},
		{"replayed with another id", secret, func() http.Header { x := h.Clone(); x.Set("webhook-id", "wh_1:2-2"); return x }(), body, t0, ErrSignatureMismatch},
		{"missing signature", secret, func() http.Header { x := h.Clone(); x.Del("webhook-signature"); return x }(), body, t0, ErrMissingHeaders},
		{"bad timestamp", secret, func() http.Header { x := h.Clone(); x.Set("webhook-timestamp", "soon"); return x }(), body, t0, ErrInvalidHeaders},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := Verify(c.secret, c.header, c.body, c.now); !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := Sign("whsec_not base64!", "id", t0, body); err == nil || strings.Contains(err.Error(), "not base64") {
		t.Fatalf("malformed secret: %v", err)
	}
}
