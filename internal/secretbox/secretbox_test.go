package secretbox_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/proxyhub/proxyhub/internal/secretbox"
)

func box(t *testing.T, seed byte) *secretbox.Box {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	b, err := secretbox.FromSigningKey(ed25519.NewKeyFromSeed(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen_RoundTripAndNothingInTheClear(t *testing.T) {
	b := box(t, 1)
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	a, err := b.Seal(secret, "webhook/acme/wh_1")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := b.Seal(secret, "webhook/acme/wh_1")
	if a == again {
		t.Error("sealing twice gave the same value: the nonce is not random")
	}
	if !secretbox.IsSealed(a) || strings.Contains(a, "MfKQ9r8") || strings.Contains(a, secret) {
		t.Fatalf("sealed value %q", a)
	}
	got, err := b.Open(a, "webhook/acme/wh_1")
	if err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// The same signing key on another hub opens it.
	if got, err := box(t, 1).Open(a, "webhook/acme/wh_1"); err != nil || got != secret {
		t.Fatalf("another Box of the same key: %q, %v", got, err)
	}
}

func TestOpen_Refuses(t *testing.T) {
	b := box(t, 1)
	sealed, err := b.Seal("whsec_c2VjcmV0", "webhook/acme/wh_1")
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(sealed)
	flipped[len(flipped)-3] ^= 'A' ^ 'B'
	cases := []struct {
		name, value, context, want string
		box                        *secretbox.Box
	}{
		{"another record", sealed, "webhook/globex/wh_1", "does not open", b},
		{"altered", string(flipped), "webhook/acme/wh_1", "", b},
		{"another key", sealed, "webhook/acme/wh_1", "sealed with key " + b.KeyID() + ", this hub has key " + box(t, 2).KeyID(), box(t, 2)},
		{"truncated", sealed[:len("sealed:v1:")+12], "webhook/acme/wh_1", "malformed", b},
		{"plain", "whsec_c2VjcmV0", "webhook/acme/wh_1", "not sealed", b},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.box.Open(tc.value, tc.context)
			if err == nil || got != "" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open = %q, %v; want an error with %q", got, err, tc.want)
			}
			if strings.Contains(err.Error(), "c2VjcmV0") {
				t.Fatalf("error reveals the secret: %v", err)
			}
		})
	}
	if _, err := b.Open("whsec_x", "c"); !errors.Is(err, secretbox.ErrNotSealed) {
		t.Fatalf("plain value: %v, want ErrNotSealed", err)
	}
}

func TestNew_RefusesAShortKey(t *testing.T) {
	if _, err := secretbox.New(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}
