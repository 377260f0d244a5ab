package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	localIss = "https://hub.example.test"
	localAud = "proxyhub-admin"
	extIss   = "https://idp.example.test/realms/ops"
	extAud   = "proxyhub"
)

// fakeNow is the time of the fake clock every test runs on; it is far from the real time,
// so a Verifier that ignored its clock would fail these tests.
var fakeNow = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

func fakeClock() time.Time { return fakeNow }

// The test keys are generated once: RSA generation is slow under -race.
var (
	testKeysOnce sync.Once
	localPriv    ed25519.PrivateKey
	otherPriv    ed25519.PrivateKey
	rsaPriv      *rsa.PrivateKey
	ecPriv       *ecdsa.PrivateKey
	edPriv       ed25519.PrivateKey
	ed2Priv      ed25519.PrivateKey
)

func genTestKeys(t testing.TB) {
	t.Helper()
	testKeysOnce.Do(func() {
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		gen := func() ed25519.PrivateKey {
			_, k, err := ed25519.GenerateKey(rand.Reader)
			must(err)
			return k
		}
		localPriv, otherPriv, edPriv, ed2Priv = gen(), gen(), gen(), gen()
		var err error
		rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048)
		must(err)
		ecPriv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(err)
	})
}

func localPub() ed25519.PublicKey { return localPriv.Public().(ed25519.PublicKey) }

func newLocalVerifier(t testing.TB) *Verifier {
	t.Helper()
	genTestKeys(t)
	v, err := NewVerifier(context.Background(), VerifierConfig{
		LocalKey: localPub(), LocalIssuer: localIss, Audience: localAud, Now: fakeClock,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// claimsAt returns valid admin claims issued at iat for one hour.
func claimsAt(iat time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": localIss, "aud": localAud, "sub": "alice",
		"iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(time.Hour).Unix(),
		"jti": "j1", "tenant": "acme", "role": "admin",
	}
}

// with returns a copy of c with set applied; a nil value deletes the claim.
func withClaims(c jwt.MapClaims, set map[string]any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, v := range c {
		out[k] = v
	}
	for k, v := range set {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// mint signs claims with method and key; header entries are added (kid among them).
func mintJWT(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

func localKID() map[string]any { return map[string]any{"kid": KeyID(localPub())} }

// segment returns the decoded JSON of segment i of a compact JWT.
func jwtSegment(t testing.TB, raw string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// withPayload replaces raw's payload by claims, keeping header and signature.
func withPayload(t testing.TB, raw string, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(raw, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// assertInvalid checks err wraps ErrInvalidToken (and cause, when given) and
// that its text leaks no part of raw.
func assertInvalid(t testing.TB, raw string, err error, cause error) {
	t.Helper()
	if err == nil {
		t.Fatal("Verify accepted the token")
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v, want it to wrap ErrInvalidToken", err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("err = %v, want cause %q", err, cause)
	}
	msg := err.Error()
	for _, part := range strings.Split(raw, ".") {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Fatalf("error %q contains part of the token", msg)
		}
	}
	if len(msg) > 200 {
		t.Fatalf("error text is %d bytes long; details must be short fixed phrases", len(msg))
	}
}

func TestRoleValid(t *testing.T) {
	tests := []struct {
		role Role
		want bool
	}{
		{RolePlatform, true}, {RoleOwner, true}, {RoleAdmin, true}, {RoleViewer, true},
		{"", false}, {"Admin", false}, {"root", false}, {"admin ", false},
	}
	for _, tt := range tests {
		if got := tt.role.Valid(); got != tt.want {
			t.Errorf("Role(%q).Valid() = %v, want %v", tt.role, got, tt.want)
		}
	}
}

func TestSignVerifyRoundtrip(t *testing.T) {
	v := newLocalVerifier(t)
	s := NewSigner(localPriv, localIss, localAud, fakeClock)
	if !s.PublicKey().Equal(localPub()) {
		t.Fatal("PublicKey differs from the key's public half")
	}

	tests := []struct {
		name    string
		subject string
		tenant  string
		role    Role
		ttl     time.Duration
	}{
		{"admin", "alice", "acme", RoleAdmin, 15 * time.Minute},
		{"owner", "bob@example.com", "acme", RoleOwner, time.Hour},
		{"viewer", "auditor", "beta", RoleViewer, time.Second},
		{"platform_without_tenant", "ops", "", RolePlatform, time.Hour},
		{"platform_with_tenant", "ops", "acme", RolePlatform, time.Hour},
		{"max_lifetime", "alice", "acme", RoleAdmin, MaxLifetime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := s.Sign(tt.subject, tt.tenant, tt.role, tt.ttl)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			h := jwtSegment(t, raw, 0)
			if h["alg"] != "EdDSA" || h["kid"] != KeyID(localPub()) {
				t.Fatalf("header = %v, want alg EdDSA and kid %s", h, KeyID(localPub()))
			}
			if p := jwtSegment(t, raw, 1); p["aud"] != localAud {
				t.Fatalf("aud = %#v, want the single string %q", p["aud"], localAud)
			}

			c, err := v.Verify(t.Context(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			switch {
			case c.Subject != tt.subject, c.Tenant != tt.tenant, c.Role != tt.role, c.Issuer != localIss:
				t.Fatalf("claims = %+v", c)
			case !slices.Equal([]string(c.Audience), []string{localAud}):
				t.Fatalf("aud = %v", c.Audience)
			case !c.IssuedAt.Equal(fakeNow), !c.NotBefore.Equal(fakeNow), !c.ExpiresAt.Equal(fakeNow.Add(tt.ttl)):
				t.Fatalf("times iat=%v nbf=%v exp=%v", c.IssuedAt, c.NotBefore, c.ExpiresAt)
			case len(c.ID) < 20:
				t.Fatalf("jti = %q, want a random id", c.ID)
			}
		})
	}

	a, _ := s.Sign("alice", "acme", RoleAdmin, time.Hour)
	b, _ := s.Sign("alice", "acme", RoleAdmin, time.Hour)
	if jwtSegment(t, a, 1)["jti"] == jwtSegment(t, b, 1)["jti"] {
		t.Fatal("two tokens share a jti")
	}
}

func TestSignRejects(t *testing.T) {
	genTestKeys(t)
	good := NewSigner(localPriv, localIss, localAud, fakeClock)
	tests := []struct {
		name    string
		signer  *Signer
		subject string
		tenant  string
		role    Role
		ttl     time.Duration
	}{
		{"zero_ttl", good, "alice", "acme", RoleAdmin, 0},
		{"negative_ttl", good, "alice", "acme", RoleAdmin, -time.Minute},
		{"ttl_over_max", good, "alice", "acme", RoleAdmin, MaxLifetime + time.Second},
		{"invalid_role", good, "alice", "acme", Role("root"), time.Hour},
		{"empty_role", good, "alice", "acme", "", time.Hour},
		{"tenant_missing", good, "alice", "", RoleViewer, time.Hour},
		{"subject_missing", good, "", "acme", RoleAdmin, time.Hour},
		{"short_key", NewSigner(localPriv[:10], localIss, localAud, fakeClock), "alice", "acme", RoleAdmin, time.Hour},
		{"nil_key", NewSigner(nil, localIss, localAud, fakeClock), "alice", "acme", RoleAdmin, time.Hour},
		{"no_issuer", NewSigner(localPriv, "", localAud, fakeClock), "alice", "acme", RoleAdmin, time.Hour},
		{"no_audience", NewSigner(localPriv, localIss, "", fakeClock), "alice", "acme", RoleAdmin, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raw, err := tt.signer.Sign(tt.subject, tt.tenant, tt.role, tt.ttl); err == nil {
				t.Fatalf("Sign succeeded: %s", raw)
			}
		})
	}
}

func TestNewSignerDefaultClock(t *testing.T) {
	genTestKeys(t)
	raw, err := NewSigner(localPriv, localIss, localAud, nil).Sign("alice", "acme", RoleAdmin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	iat := int64(jwtSegment(t, raw, 1)["iat"].(float64))
	if d := time.Since(time.Unix(iat, 0)); d < 0 || d > time.Minute {
		t.Fatalf("iat is %v away from the real fakeClock", d)
	}
}

func TestVerifyAcceptsWithinLeeway(t *testing.T) {
	v := newLocalVerifier(t)
	tests := []struct {
		name   string
		claims jwt.MapClaims
	}{
		{"expired_10s_ago", withClaims(claimsAt(fakeNow.Add(-time.Hour)), map[string]any{"exp": fakeNow.Add(-10 * time.Second).Unix()})},
		{"expired_29s_ago", withClaims(claimsAt(fakeNow.Add(-time.Hour)), map[string]any{"exp": fakeNow.Add(-29 * time.Second).Unix()})},
		{"nbf_20s_ahead", withClaims(claimsAt(fakeNow), map[string]any{"nbf": fakeNow.Add(20 * time.Second).Unix()})},
		{"iat_20s_ahead", claimsAt(fakeNow.Add(20 * time.Second))},
		{"no_nbf", withClaims(claimsAt(fakeNow), map[string]any{"nbf": nil})},
		{"no_kid", claimsAt(fakeNow)},
		{"aud_array_with_ours", withClaims(claimsAt(fakeNow), map[string]any{"aud": []string{"other", localAud}})},
		{"lifetime_exactly_24h", withClaims(claimsAt(fakeNow), map[string]any{"exp": fakeNow.Add(MaxLifetime).Unix()})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := localKID()
			if tt.name == "no_kid" {
				hdr = nil
			}
			raw := mintJWT(t, jwt.SigningMethodEdDSA, localPriv, hdr, tt.claims)
			c, err := v.Verify(t.Context(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "alice" || c.Role != RoleAdmin || c.Tenant != "acme" {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
}

func TestVerifyRejectsAttacks(t *testing.T) {
	genTestKeys(t)
	v := newLocalVerifier(t)
	signer := NewSigner(localPriv, localIss, localAud, fakeClock)
	good := claimsAt(fakeNow)
	hdr := localKID()
	edLocal := func(c jwt.MapClaims) func(t *testing.T) string {
		return func(t *testing.T) string { return mintJWT(t, jwt.SigningMethodEdDSA, localPriv, hdr, c) }
	}

	tests := []struct {
		name  string
		raw   func(t *testing.T) string
		cause error // the reason Verify must give; nil: only ErrInvalidToken is checked
	}{
		// Algorithm confusion and forged signatures.
		{"alg_none", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, good)
		}, jwt.ErrTokenSignatureInvalid},
		{"alg_none_uppercase", func(t *testing.T) string {
			raw := mintJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, nil, good)
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"NONE","typ":"JWT"}`))
			return h + raw[strings.IndexByte(raw, '.'):]
		}, nil},
		{"hs256_keyed_with_public_key", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodHS256, []byte(localPub()), hdr, good)
		}, jwt.ErrTokenSignatureInvalid},
		{"hs256_keyed_with_public_key_pem", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodHS256, []byte(base64.StdEncoding.EncodeToString(localPub())), hdr, good)
		}, jwt.ErrTokenSignatureInvalid},
		{"rs256_with_local_iss", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodRS256, rsaPriv, hdr, good)
		}, jwt.ErrTokenSignatureInvalid},
		{"es256_with_local_iss", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodES256, ecPriv, hdr, good)
		}, jwt.ErrTokenSignatureInvalid},
		{"other_ed25519_key_claiming_local_kid", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, otherPriv, hdr, good)
		}, jwt.ErrTokenSignatureInvalid},
		{"other_ed25519_key_no_kid", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, otherPriv, nil, good)
		}, jwt.ErrTokenSignatureInvalid},
		{"other_ed25519_key_own_kid", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, otherPriv, map[string]any{"kid": KeyID(otherPriv.Public().(ed25519.PublicKey))}, good)
		}, errUnknownKeyID},
		{"local_key_foreign_kid", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, localPriv, map[string]any{"kid": "someone-else"}, good)
		}, errUnknownKeyID},
		{"local_key_numeric_kid", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, localPriv, map[string]any{"kid": 7}, good)
		}, errUnknownKeyID},
		{"crit_header", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, localPriv, map[string]any{"crit": []string{"exp"}, "exp": 1}, good)
		}, errCritHeader},
		{"tampered_role_viewer_to_platform", func(t *testing.T) string {
			raw, err := signer.Sign("alice", "acme", RoleViewer, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			p := jwtSegment(t, raw, 1)
			p["role"] = "platform"
			return withPayload(t, raw, p)
		}, jwt.ErrTokenSignatureInvalid},
		{"tampered_tenant", func(t *testing.T) string {
			raw, _ := signer.Sign("alice", "acme", RoleAdmin, time.Hour)
			p := jwtSegment(t, raw, 1)
			p["tenant"] = "victim"
			return withPayload(t, raw, p)
		}, jwt.ErrTokenSignatureInvalid},
		{"signature_stripped", func(t *testing.T) string {
			raw, _ := signer.Sign("alice", "acme", RoleAdmin, time.Hour)
			return raw[:strings.LastIndexByte(raw, '.')+1]
		}, nil},
		{"signature_of_other_token", func(t *testing.T) string {
			a, _ := signer.Sign("alice", "acme", RoleViewer, time.Hour)
			b, _ := signer.Sign("mallory", "acme", RoleOwner, time.Hour)
			return b[:strings.LastIndexByte(b, '.')] + a[strings.LastIndexByte(a, '.'):]
		}, jwt.ErrTokenSignatureInvalid},

		// Issuer and audience.
		{"wrong_aud", edLocal(withClaims(good, map[string]any{"aud": "someone-else"})), jwt.ErrTokenInvalidAudience},
		{"aud_array_without_ours", edLocal(withClaims(good, map[string]any{"aud": []string{"a", "b"}})), jwt.ErrTokenInvalidAudience},
		{"aud_missing", edLocal(withClaims(good, map[string]any{"aud": nil})), jwt.ErrTokenRequiredClaimMissing},
		{"external_aud_on_local_token", edLocal(withClaims(good, map[string]any{"aud": extAud})), jwt.ErrTokenInvalidAudience},
		{"wrong_iss", edLocal(withClaims(good, map[string]any{"iss": "https://evil.example"})), errUnknownIssuer},
		{"iss_differs_in_case", edLocal(withClaims(good, map[string]any{"iss": strings.ToUpper(localIss)})), errUnknownIssuer},
		{"iss_missing", edLocal(withClaims(good, map[string]any{"iss": nil})), errUnknownIssuer},
		{"iss_not_a_string", edLocal(withClaims(good, map[string]any{"iss": 42})), jwt.ErrTokenMalformed},
		{"external_iss_without_jwks", edLocal(withClaims(good, map[string]any{"iss": extIss})), errUnknownIssuer},

		// Time.
		{"expired_beyond_leeway", edLocal(withClaims(claimsAt(fakeNow.Add(-2*time.Hour)), map[string]any{"exp": fakeNow.Add(-31 * time.Second).Unix()})), jwt.ErrTokenExpired},
		{"expired_long_ago", edLocal(claimsAt(fakeNow.Add(-48 * time.Hour))), jwt.ErrTokenExpired},
		{"nbf_2min_ahead", edLocal(withClaims(good, map[string]any{"nbf": fakeNow.Add(2 * time.Minute).Unix()})), jwt.ErrTokenNotValidYet},
		{"iat_2min_ahead", edLocal(withClaims(claimsAt(fakeNow.Add(2*time.Minute)), map[string]any{"nbf": nil})), jwt.ErrTokenUsedBeforeIssued},
		{"iat_and_nbf_2min_ahead", edLocal(claimsAt(fakeNow.Add(2 * time.Minute))), jwt.ErrTokenNotValidYet},
		{"iat_missing", edLocal(withClaims(good, map[string]any{"iat": nil})), errMissingIssuedAt},
		{"exp_missing", edLocal(withClaims(good, map[string]any{"exp": nil})), jwt.ErrTokenRequiredClaimMissing},
		{"lifetime_25h", edLocal(withClaims(claimsAt(fakeNow.Add(-time.Hour)), map[string]any{"exp": fakeNow.Add(24 * time.Hour).Unix()})), errBadLifetime},
		{"lifetime_24h_1s", edLocal(withClaims(good, map[string]any{"exp": fakeNow.Add(MaxLifetime + time.Second).Unix()})), errBadLifetime},
		{"exp_before_iat", edLocal(withClaims(claimsAt(fakeNow.Add(20*time.Second)), map[string]any{"exp": fakeNow.Add(10 * time.Second).Unix()})), errBadLifetime},
		{"exp_not_a_number", edLocal(withClaims(good, map[string]any{"exp": "tomorrow"})), jwt.ErrTokenMalformed},

		// Claims of proxyhub.
		{"unknown_role", edLocal(withClaims(good, map[string]any{"role": "superuser"})), errInvalidRole},
		{"role_wrong_case", edLocal(withClaims(good, map[string]any{"role": "Platform"})), errInvalidRole},
		{"role_missing", edLocal(withClaims(good, map[string]any{"role": nil})), errInvalidRole},
		{"role_not_a_string", edLocal(withClaims(good, map[string]any{"role": 1})), jwt.ErrTokenMalformed},
		{"tenant_missing_for_admin", edLocal(withClaims(good, map[string]any{"tenant": nil})), errMissingTenant},
		{"tenant_empty_for_viewer", edLocal(withClaims(good, map[string]any{"tenant": "", "role": "viewer"})), errMissingTenant},
		{"sub_missing", edLocal(withClaims(good, map[string]any{"sub": nil})), errMissingSubject},

		// Shape and size.
		{"oversized", edLocal(withClaims(good, map[string]any{"pad": strings.Repeat("A", MaxTokenBytes)})), errTokenTooLarge},
		{"oversized_garbage", func(*testing.T) string { return strings.Repeat("x.", MaxTokenBytes) }, errTokenTooLarge},
		{"garbage", func(*testing.T) string { return "this is not a token" }, jwt.ErrTokenMalformed},
		{"garbage_with_dots", func(*testing.T) string { return "aaaa.bbbb.cccc" }, jwt.ErrTokenMalformed},
		{"empty", func(*testing.T) string { return "" }, errEmptyToken},
		{"two_segments", func(t *testing.T) string {
			raw, _ := signer.Sign("alice", "acme", RoleAdmin, time.Hour)
			return raw[:strings.LastIndexByte(raw, '.')]
		}, jwt.ErrTokenMalformed},
		{"four_segments", func(t *testing.T) string {
			raw, _ := signer.Sign("alice", "acme", RoleAdmin, time.Hour)
			return raw + ".AAAA"
		}, jwt.ErrTokenMalformed},
		{"bearer_prefix_left_on", func(t *testing.T) string {
			raw, _ := signer.Sign("alice", "acme", RoleAdmin, time.Hour)
			return "Bearer " + raw
		}, jwt.ErrTokenMalformed},
		{"padded_base64", func(t *testing.T) string {
			raw, _ := signer.Sign("alice", "acme", RoleAdmin, time.Hour)
			parts := strings.Split(raw, ".")
			parts[2] += "=="
			return strings.Join(parts, ".")
		}, jwt.ErrTokenMalformed},
		{"heartbeat_token", func(t *testing.T) string { return mustSecret(t, PrefixHeartbeatToken) }, jwt.ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.raw(t)
			c, err := v.Verify(t.Context(), raw)
			assertInvalid(t, raw, err, tt.cause)
			if c.Role != "" || c.Subject != "" || c.Tenant != "" || c.Issuer != "" {
				t.Fatalf("claims returned with an error: %+v", c)
			}
		})
	}
}

func TestVerifyUsesConfiguredClock(t *testing.T) {
	genTestKeys(t)
	raw, err := NewSigner(localPriv, localIss, localAud, fakeClock).Sign("alice", "acme", RoleAdmin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"at_issue", fakeNow, true},
		{"59min_later", fakeNow.Add(59 * time.Minute), true},
		{"61min_later", fakeNow.Add(61 * time.Minute), false},
		{"a_minute_before_issue", fakeNow.Add(-time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(context.Background(), VerifierConfig{
				LocalKey: localPub(), LocalIssuer: localIss, Audience: localAud,
				Now: func() time.Time { return tt.at },
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(t.Context(), raw)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify at %v: err = %v, want ok=%v", tt.at, err, tt.ok)
			}
		})
	}
}

func TestNewVerifierConfig(t *testing.T) {
	genTestKeys(t)
	base := VerifierConfig{LocalKey: localPub(), LocalIssuer: localIss, Audience: localAud}
	withCfg := func(f func(*VerifierConfig)) VerifierConfig {
		c := base
		f(&c)
		return c
	}
	ext := func(c *VerifierConfig) {
		c.JWKSURL, c.ExternalIssuer, c.ExternalAudience = "https://127.0.0.1:1/jwks", extIss, extAud
	}
	tests := []struct {
		name string
		cfg  VerifierConfig
	}{
		{"no_local_key", withCfg(func(c *VerifierConfig) { c.LocalKey = nil })},
		{"short_local_key", withCfg(func(c *VerifierConfig) { c.LocalKey = c.LocalKey[:16] })},
		{"no_local_issuer", withCfg(func(c *VerifierConfig) { c.LocalIssuer = "" })},
		{"no_audience", withCfg(func(c *VerifierConfig) { c.Audience = "" })},
		{"external_issuer_without_url", withCfg(func(c *VerifierConfig) { c.ExternalIssuer = extIss })},
		{"external_audience_without_url", withCfg(func(c *VerifierConfig) { c.ExternalAudience = extAud })},
		{"url_without_issuer", withCfg(func(c *VerifierConfig) { ext(c); c.ExternalIssuer = "" })},
		{"url_without_audience", withCfg(func(c *VerifierConfig) { ext(c); c.ExternalAudience = "" })},
		{"external_issuer_equals_local", withCfg(func(c *VerifierConfig) { ext(c); c.ExternalIssuer = localIss })},
		{"plain_http_remote", withCfg(func(c *VerifierConfig) { ext(c); c.JWKSURL = "http://idp.example.test/jwks" })},
		{"ftp_url", withCfg(func(c *VerifierConfig) { ext(c); c.JWKSURL = "ftp://idp.example.test/jwks" })},
		{"relative_url", withCfg(func(c *VerifierConfig) { ext(c); c.JWKSURL = "/jwks" })},
		{"unparseable_url", withCfg(func(c *VerifierConfig) { ext(c); c.JWKSURL = "https://[::1" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := NewVerifier(t.Context(), tt.cfg); err == nil {
				t.Fatalf("NewVerifier accepted the config: %+v", v)
			}
		})
	}
}

// ---- external issuer -------------------------------------------------------

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey, alg string) map[string]any {
	m := map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b64url(k.N.Bytes()), "e": b64url(big.NewInt(int64(k.E)).Bytes())}
	if alg != "" {
		m["alg"] = alg
	}
	return m
}

func ecJWK(t testing.TB, kid string, k *ecdsa.PublicKey) map[string]any {
	t.Helper()
	pt, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "x": b64url(pt[1:33]), "y": b64url(pt[33:])}
}

func okpJWK(kid string, k ed25519.PublicKey) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64url(k)}
}

// jwksServer serves a JWK Set that tests can replace, and counts fetches.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	body []byte
}

func newJWKSServer(t *testing.T, jwks ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(t, jwks...)
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/jwks.json" {
			http.NotFound(w, r)
			return
		}
		s.hits.Add(1)
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(t testing.TB, jwks ...map[string]any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"keys": jwks})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func (s *jwksServer) setRaw(body []byte) {
	s.mu.Lock()
	s.body = body
	s.mu.Unlock()
}

func newExternalVerifier(t *testing.T, srv *jwksServer) *Verifier {
	t.Helper()
	client := srv.Client()
	client.Timeout = 5 * time.Second
	v, err := NewVerifier(t.Context(), VerifierConfig{
		LocalKey: localPub(), LocalIssuer: localIss, Audience: localAud,
		JWKSURL: srv.URL + "/jwks.json", ExternalIssuer: extIss, ExternalAudience: extAud,
		HTTPClient: client, Now: fakeClock,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func extClaims() jwt.MapClaims {
	return withClaims(claimsAt(fakeNow), map[string]any{"iss": extIss, "aud": []string{extAud, "account"}, "sub": "carol", "role": "owner"})
}

func standardJWKS(t testing.TB) []map[string]any {
	return []map[string]any{
		rsaJWK("rsa-1", &rsaPriv.PublicKey, "RS256"),
		ecJWK(t, "ec-1", &ecPriv.PublicKey),
		okpJWK("ed-1", edPriv.Public().(ed25519.PublicKey)),
		withClaims(okpJWK("enc-1", ed2Priv.Public().(ed25519.PublicKey)), map[string]any{"use": "enc"}),
	}
}

func TestExternalIssuer(t *testing.T) {
	genTestKeys(t)
	srv := newJWKSServer(t, standardJWKS(t)...)
	v := newExternalVerifier(t, srv)
	if got := srv.hits.Load(); got != 1 {
		t.Fatalf("JWK Set fetched %d times by NewVerifier, want 1 (eager)", got)
	}
	good := extClaims()
	kid := func(k string) map[string]any { return map[string]any{"kid": k} }

	accept := []struct {
		name   string
		method jwt.SigningMethod
		key    any
		kid    string
	}{
		{"rs256", jwt.SigningMethodRS256, rsaPriv, "rsa-1"},
		{"es256", jwt.SigningMethodES256, ecPriv, "ec-1"},
		{"eddsa", jwt.SigningMethodEdDSA, edPriv, "ed-1"},
	}
	for _, tt := range accept {
		t.Run("accepts_"+tt.name, func(t *testing.T) {
			raw := mintJWT(t, tt.method, tt.key, kid(tt.kid), good)
			c, err := v.Verify(t.Context(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Issuer != extIss || c.Subject != "carol" || c.Role != RoleOwner || c.Tenant != "acme" {
				t.Fatalf("claims = %+v", c)
			}
		})
	}

	// Local tokens still work next to the external issuer.
	t.Run("accepts_local", func(t *testing.T) {
		raw, err := NewSigner(localPriv, localIss, localAud, fakeClock).Sign("alice", "acme", RoleAdmin, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(t.Context(), raw); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})

	reject := []struct {
		name  string
		raw   func(t *testing.T) string
		cause error
	}{
		{"wrong_aud", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodRS256, rsaPriv, kid("rsa-1"), withClaims(good, map[string]any{"aud": "account"}))
		}, jwt.ErrTokenInvalidAudience},
		{"local_aud_on_external_token", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodRS256, rsaPriv, kid("rsa-1"), withClaims(good, map[string]any{"aud": localAud}))
		}, jwt.ErrTokenInvalidAudience},
		{"expired", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodES256, ecPriv, kid("ec-1"), withClaims(good, map[string]any{"exp": fakeNow.Add(-time.Minute).Unix()}))
		}, jwt.ErrTokenExpired},
		{"lifetime_25h", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, edPriv, kid("ed-1"), withClaims(good, map[string]any{"exp": fakeNow.Add(25 * time.Hour).Unix()}))
		}, errBadLifetime},
		{"unknown_role", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, edPriv, kid("ed-1"), withClaims(good, map[string]any{"role": "realm-admin"}))
		}, errInvalidRole},
		{"no_kid", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodRS256, rsaPriv, nil, good)
		}, errMissingKeyID},
		{"hs256_keyed_with_rsa_modulus", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodHS256, rsaPriv.N.Bytes(), kid("rsa-1"), good)
		}, jwt.ErrTokenSignatureInvalid},
		{"alg_none", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid("rsa-1"), good)
		}, jwt.ErrTokenSignatureInvalid},
		{"ps256_not_allowed", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodPS256, rsaPriv, kid("rsa-1"), good)
		}, jwt.ErrTokenSignatureInvalid},
		{"es384_not_allowed", func(t *testing.T) string {
			p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			return mintJWT(t, jwt.SigningMethodES384, p384, kid("ec-1"), good)
		}, jwt.ErrTokenSignatureInvalid},
		{"rsa_key_signed_by_other_rsa", func(t *testing.T) string {
			other, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			return mintJWT(t, jwt.SigningMethodRS256, other, kid("rsa-1"), good)
		}, jwt.ErrTokenSignatureInvalid},
		{"es256_claiming_rsa_kid", func(t *testing.T) string {
			// The JWK says alg RS256.
			return mintJWT(t, jwt.SigningMethodES256, ecPriv, kid("rsa-1"), good)
		}, errKeyUnavailable},
		{"key_marked_for_encryption", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, ed2Priv, kid("enc-1"), good)
		}, errKeyUnavailable},
		{"eddsa_claiming_ec_kid", func(t *testing.T) string {
			// The JWK has no alg: the key type decides.
			return mintJWT(t, jwt.SigningMethodEdDSA, edPriv, kid("ec-1"), good)
		}, errKeyNotUsable},
		{"external_iss_signed_by_local_key_local_kid", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, localPriv, localKID(), good)
		}, errUnknownKeyID},
		{"external_iss_signed_by_local_key_ed_kid", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, localPriv, kid("ed-1"), good)
		}, jwt.ErrTokenSignatureInvalid},
		{"local_iss_signed_by_external_key", func(t *testing.T) string {
			return mintJWT(t, jwt.SigningMethodEdDSA, edPriv, kid("ed-1"), withClaims(good, map[string]any{"iss": localIss, "aud": localAud}))
		}, nil},
	}
	for _, tt := range reject {
		t.Run("rejects_"+tt.name, func(t *testing.T) {
			raw := tt.raw(t)
			_, err := v.Verify(t.Context(), raw)
			assertInvalid(t, raw, err, tt.cause)
		})
	}
}

func TestExternalIssuerAcceptsLocalKeyPublishedInJWKS(t *testing.T) {
	genTestKeys(t)
	srv := newJWKSServer(t, okpJWK(KeyID(localPub()), localPub()))
	v := newExternalVerifier(t, srv)
	raw := mintJWT(t, jwt.SigningMethodEdDSA, localPriv, localKID(), extClaims())
	if _, err := v.Verify(t.Context(), raw); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestExternalIssuerRefreshOnUnknownKID(t *testing.T) {
	genTestKeys(t)
	srv := newJWKSServer(t, rsaJWK("rsa-1", &rsaPriv.PublicKey, "RS256"))
	v := newExternalVerifier(t, srv)
	good := extClaims()

	steps := []struct {
		name     string
		method   jwt.SigningMethod
		key      any
		kid      string
		rotate   bool // replace the server's JWK Set by rsa-1 + ed-2 first
		ok       bool
		cause    error // when !ok
		wantHits int64
	}{
		{"known_kid_no_fetch", jwt.SigningMethodRS256, rsaPriv, "rsa-1", false, true, nil, 1},
		{"new_kid_after_rotation_fetches", jwt.SigningMethodEdDSA, ed2Priv, "ed-2", true, true, nil, 2},
		{"new_kid_is_cached", jwt.SigningMethodEdDSA, ed2Priv, "ed-2", false, true, nil, 2},
		{"unknown_kid_rate_limited", jwt.SigningMethodEdDSA, otherPriv, "never-published", false, false, errKeyUnavailable, 2},
		{"another_unknown_kid_rate_limited", jwt.SigningMethodEdDSA, otherPriv, "also-unknown", false, false, errKeyUnavailable, 2},
		{"old_kid_still_valid", jwt.SigningMethodRS256, rsaPriv, "rsa-1", false, true, nil, 2},
	}
	for _, st := range steps {
		if st.rotate {
			srv.set(t, rsaJWK("rsa-1", &rsaPriv.PublicKey, "RS256"), okpJWK("ed-2", ed2Priv.Public().(ed25519.PublicKey)))
		}
		raw := mintJWT(t, st.method, st.key, map[string]any{"kid": st.kid}, good)
		start := time.Now()
		_, err := v.Verify(t.Context(), raw)
		took := time.Since(start)
		switch {
		case st.ok && err != nil:
			t.Fatalf("%s: Verify: %v", st.name, err)
		case !st.ok:
			assertInvalid(t, raw, err, st.cause)
		}
		if got := srv.hits.Load(); got != st.wantHits {
			t.Fatalf("%s: JWK Set fetched %d times, want %d", st.name, got, st.wantHits)
		}
		if took > 2*time.Second {
			t.Fatalf("%s: Verify took %v; a rate-limited refresh must not block", st.name, took)
		}
	}
}

func TestExternalIssuerJWKSUnavailable(t *testing.T) {
	genTestKeys(t)
	tests := []struct {
		name  string
		serve func(srv *jwksServer)
	}{
		{"server_down", func(srv *jwksServer) { srv.Close() }},
		{"not_json", func(srv *jwksServer) { srv.setRaw([]byte("<html>oops</html>")) }},
		{"over_1MiB", func(srv *jwksServer) {
			pad := strings.Repeat("x", 2<<20)
			srv.setRaw(fmt.Appendf(nil, `{"keys":[%s],"pad":"%s"}`, mustJSON(t, okpJWK("ed-1", edPriv.Public().(ed25519.PublicKey))), pad))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t)
			tt.serve(srv)
			// NewVerifier still succeeds: local tokens must keep working while the IdP is down.
			v := newExternalVerifier(t, srv)
			local, err := NewSigner(localPriv, localIss, localAud, fakeClock).Sign("alice", "acme", RoleAdmin, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Verify(t.Context(), local); err != nil {
				t.Fatalf("local token rejected while the JWK Set is unavailable: %v", err)
			}
			raw := mintJWT(t, jwt.SigningMethodEdDSA, edPriv, map[string]any{"kid": "ed-1"}, extClaims())
			_, err = v.Verify(t.Context(), raw)
			assertInvalid(t, raw, err, nil)
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJWKSHTTPLoopbackOnly(t *testing.T) {
	genTestKeys(t)
	// Plain http is accepted for a loopback host (a local IdP in development).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(mustJSON(t, map[string]any{"keys": []any{okpJWK("ed-1", edPriv.Public().(ed25519.PublicKey))}}))
	}))
	defer srv.Close()
	v, err := NewVerifier(t.Context(), VerifierConfig{
		LocalKey: localPub(), LocalIssuer: localIss, Audience: localAud,
		JWKSURL: srv.URL, ExternalIssuer: extIss, ExternalAudience: extAud, Now: fakeClock,
	})
	if err != nil {
		t.Fatalf("NewVerifier with http loopback URL: %v", err)
	}
	raw := mintJWT(t, jwt.SigningMethodEdDSA, edPriv, map[string]any{"kid": "ed-1"}, extClaims())
	if _, err := v.Verify(t.Context(), raw); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestLimitedBody(t *testing.T) {
	const max = 10
	tests := []struct {
		size int
		ok   bool
	}{{0, true}, {1, true}, {max, true}, {max + 1, false}, {10 * max, false}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			b := &limitedBody{ReadCloser: io.NopCloser(strings.NewReader(strings.Repeat("x", tt.size))), left: max}
			got, err := io.ReadAll(b)
			switch {
			case tt.ok && (err != nil || len(got) != tt.size):
				t.Fatalf("read %d bytes, err %v; want all %d", len(got), err, tt.size)
			case !tt.ok && !errors.Is(err, errJWKSTooLarge):
				t.Fatalf("err = %v, want errJWKSTooLarge", err)
			}
		})
	}
}

func TestKeyFitsAlg(t *testing.T) {
	genTestKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  any
		alg  string
		want bool
	}{
		{"rsa2048_rs256", &rsaPriv.PublicKey, "RS256", true},
		{"rsa1024_rs256", &small.PublicKey, "RS256", false},
		{"p256_es256", &ecPriv.PublicKey, "ES256", true},
		{"p384_es256", &p384.PublicKey, "ES256", false},
		{"ed25519_eddsa", edPriv.Public(), "EdDSA", true},
		{"ed25519_rs256", edPriv.Public(), "RS256", false},
		{"rsa_eddsa", &rsaPriv.PublicKey, "EdDSA", false},
		{"hmac_bytes_hs256", []byte("k"), "HS256", false},
		{"short_ed25519", ed25519.PublicKey(make([]byte, 8)), "EdDSA", false},
	}
	for _, tt := range tests {
		if got := keyFitsAlg(tt.key, tt.alg); got != tt.want {
			t.Errorf("%s: keyFitsAlg = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	genTestKeys(t)
	srv := newJWKSServer(t, standardJWKS(t)...)
	v := newExternalVerifier(t, srv)
	local, err := NewSigner(localPriv, localIss, localAud, fakeClock).Sign("alice", "acme", RoleAdmin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ext := mintJWT(t, jwt.SigningMethodES256, ecPriv, map[string]any{"kid": "ec-1"}, extClaims())
	bad := mintJWT(t, jwt.SigningMethodEdDSA, otherPriv, localKID(), claimsAt(fakeNow))

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Go(func() {
			for range 20 {
				for _, tc := range []struct {
					raw string
					ok  bool
				}{{local, true}, {ext, true}, {bad, false}} {
					_, err := v.Verify(context.Background(), tc.raw)
					if (err == nil) != tc.ok {
						errs <- fmt.Errorf("goroutine %d: err = %v, want ok=%v", i, err, tc.ok)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkVerifyLocal(b *testing.B) {
	v := newLocalVerifier(b)
	raw, err := NewSigner(localPriv, localIss, localAud, fakeClock).Sign("alice", "acme", RoleAdmin, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}
