package auth

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: whatever bytes arrive as a bearer JWT, Verify never panics,
// and it accepts nothing but the tokens the hub's key signed, with the
// claims it signed. The seeds are a valid token and the attacks of
// TestVerifyRejectsAttacks' shape; the fuzzer mutates them.
func FuzzVerify(f *testing.F) {
	genTestKeys(f)
	v := newLocalVerifier(f)
	signer := NewSigner(localPriv, localIss, localAud, fakeClock)
	good, err := signer.Sign("alice", "acme", RoleAdmin, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	platform, err := signer.Sign("root", "", RolePlatform, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	signed := map[string]bool{good: true, platform: true}
	f.Add(good)
	f.Add(platform)
	f.Add(good[:strings.LastIndexByte(good, '.')+1])                      // no signature
	f.Add("eyJhbGciOiJub25lIn0." + good[strings.IndexByte(good, '.')+1:]) // alg none
	f.Add(strings.Repeat("a.", 5000))
	f.Add("")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			return
		}
		if !signed[raw] {
			// A different string may still carry the same signed claims
			// (base64 padding variants): the claims must be one of ours.
			if !(c.Subject == "alice" && c.Tenant == "acme" && c.Role == RoleAdmin) && !(c.Subject == "root" && c.Role == RolePlatform) {
				t.Fatalf("accepted a token the hub did not sign: %q -> %+v", raw, c)
			}
		}
		if !c.Role.Valid() || (c.Role != RolePlatform && c.Tenant == "") {
			t.Fatalf("accepted claims that break the rules: %+v", c)
		}
	})
}

// FuzzWellFormedSecret: the heartbeat token check never panics, accepts
// only strings of the secret's shape (prefix, length, base-62, checksum),
// and a token the hub issues is always accepted; HashSecret is always 64
// lowercase hex characters.
func FuzzWellFormedSecret(f *testing.F) {
	issued, err := NewSecret(PrefixHeartbeatToken)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(issued)
	f.Add(PrefixHeartbeatToken + strings.Repeat("A", secretBodyLen))
	f.Add("phb_")
	f.Add("")
	f.Add(strings.Repeat("\xff", 200))
	f.Fuzz(func(t *testing.T, s string) {
		if WellFormed(PrefixHeartbeatToken, s) {
			if !strings.HasPrefix(s, PrefixHeartbeatToken) || len(s) != len(PrefixHeartbeatToken)+secretBodyLen {
				t.Fatalf("accepted %q", s)
			}
			for i := len(PrefixHeartbeatToken); i < len(s); i++ {
				if base62Value(s[i]) < 0 {
					t.Fatalf("accepted %q: byte %d is not base-62", s, i)
				}
			}
		}
		h := HashSecret(s)
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" || h != HashSecret(s) {
			t.Fatalf("HashSecret(%q) = %q", s, h)
		}
	})
}
