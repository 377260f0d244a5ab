package httpapi_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
)

func claims(tenant string, role auth.Role, iat time.Time) auth.Claims {
	return auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: auth.LocalIssuer, Audience: jwt.ClaimStrings{auth.LocalAudience}, Subject: "mallory",
			IssuedAt: jwt.NewNumericDate(iat), NotBefore: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(time.Hour)),
		},
		Tenant: tenant, Role: role,
	}
}

func TestAuth_EveryBadCredentialIs401WithoutSayingWhy(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	revoked, revokedSecret, _ := th.hub.CreateToken(context.Background(), "acme", hub.NewToken{Label: "old"})
	if err := th.hub.RevokeToken(context.Background(), "acme", revoked.ID); err != nil {
		t.Fatal(err)
	}
	expiring := th.token("acme", hub.NewToken{Label: "short", ExpiresAt: start.Add(time.Minute)})
	unknown, _ := auth.NewSecret(auth.PrefixHeartbeatToken)

	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(method jwt.SigningMethod, c auth.Claims, key any) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := claims("acme", auth.RoleOwner, start)
	wrongAud, wrongIss, expired, future, noTenant := good, good, claims("acme", auth.RoleOwner, start.Add(-2*time.Hour)), claims("acme", auth.RoleOwner, start.Add(5*time.Minute)), good
	wrongAud.Audience = jwt.ClaimStrings{"someone-else"}
	wrongIss.Issuer = "evil"
	noTenant.Tenant = ""
	huge := good
	huge.ID = strings.Repeat("x", 9000)
	viewer := th.jwt("acme", auth.RoleViewer)
	parts := strings.Split(viewer, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"proxyhub","aud":"proxyhub-admin","sub":"x","tenant":"acme","role":"owner","iat":1795856400,"exp":1795860000}`))
	tampered := strings.Join(parts, ".")

	cases := map[string]string{
		"no header":                  "",
		"basic scheme":               "Basic YWRtaW46YWRtaW4=",
		"empty bearer":               "Bearer ",
		"truncated token":            "Bearer " + tok[:20],
		"typo in token":              "Bearer " + typo(tok),
		"unknown well-formed token":  "Bearer " + unknown,
		"revoked token":              "Bearer " + revokedSecret,
		"garbage":                    "Bearer not.a.jwt",
		"alg none":                   "Bearer " + sign(jwt.SigningMethodNone, good, jwt.UnsafeAllowNoneSignatureType),
		"HS256 with the public key":  "Bearer " + sign(jwt.SigningMethodHS256, good, []byte(th.key.Public().(ed25519.PublicKey))),
		"wrong key":                  "Bearer " + sign(jwt.SigningMethodEdDSA, good, otherKey),
		"wrong audience":             "Bearer " + sign(jwt.SigningMethodEdDSA, wrongAud, th.key),
		"wrong issuer":               "Bearer " + sign(jwt.SigningMethodEdDSA, wrongIss, th.key),
		"expired":                    "Bearer " + sign(jwt.SigningMethodEdDSA, expired, th.key),
		"nbf in the future":          "Bearer " + sign(jwt.SigningMethodEdDSA, future, th.key),
		"tenant role without tenant": "Bearer " + sign(jwt.SigningMethodEdDSA, noTenant, th.key),
		"tampered payload":           "Bearer " + tampered,
		"oversized token":            "Bearer " + sign(jwt.SigningMethodEdDSA, huge, th.key),
	}
	th.clock.Advance(2 * time.Minute) // the expiring token is now past its expiry
	cases["expired token"] = "Bearer " + expiring

	var firstBody string
	for name, header := range cases {
		t.Run(name, func(t *testing.T) {
			for _, target := range []string{"/status", "/v1/tenants/acme/proxies", "/proxy_server?name=edge-1"} {
				res := th.do(request{target: target, header: http.Header{"Authorization": {header}}})
				p := assertProblem(t, res, http.StatusUnauthorized)
				if got := res.header.Get("WWW-Authenticate"); !strings.Contains(got, `Bearer`) || !strings.Contains(got, `error="invalid_token"`) {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if firstBody == "" {
					firstBody = p["detail"].(string)
				}
				if p["detail"] != firstBody {
					t.Errorf("detail %q differs from %q: it must not say which check failed", p["detail"], firstBody)
				}
			}
		})
	}
	if n := len(th.proxies("acme")); n != 0 {
		t.Fatalf("%d proxies stored by refused heartbeats", n)
	}
	for _, secret := range []string{tok, revokedSecret, unknown, expiring, viewer} {
		if strings.Contains(th.logs.String(), secret) {
			t.Fatal("a credential appears in the log")
		}
	}
}

func TestAuth_ValidJWTWorksAndClockLeewayIs30s(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	owner := th.jwt("acme", auth.RoleOwner) // valid for one hour
	if res := th.do(request{target: "/v1/tenants/acme", bearer: owner}); res.code != http.StatusOK {
		t.Fatalf("valid JWT: %d %s", res.code, res.body)
	}
	th.clock.Advance(time.Hour + 20*time.Second)
	if res := th.do(request{target: "/v1/tenants/acme", bearer: owner}); res.code != http.StatusOK {
		t.Fatalf("20 s past exp is within leeway: %d", res.code)
	}
	th.clock.Advance(20 * time.Second)
	assertProblem(t, th.do(request{target: "/v1/tenants/acme", bearer: owner}), http.StatusUnauthorized)
}

func TestHeartbeat_RecordedUnderTheTokensTenantOnly(t *testing.T) {
	t.Parallel()
	th := newTestHub(t)
	th.tenant("acme")
	th.tenant("globex")
	a, g := th.token("acme"), th.token("globex")
	th.heartbeat(a, "edge-1", "203.0.113.1:1", http.StatusOK)
	body := th.heartbeat(g, "edge-1", "198.51.100.1:1", http.StatusOK)
	if body["ip_changed"] != false {
		t.Fatal("globex's edge-1 is not acme's edge-1")
	}
	for tenant, tok := range map[string]string{"acme": a, "globex": g} {
		st := th.do(request{target: "/status", bearer: tok}).json(t)
		ps := st["proxies"].([]any)
		if st["total"] != 1.0 || len(ps) != 1 {
			t.Fatalf("%s status: %v", tenant, st)
		}
	}
	if ps := th.proxies("acme"); len(ps) != 1 || ps[0].IP.String() != "203.0.113.1" {
		t.Fatalf("acme: %+v", ps)
	}
}

func TestHeartbeat_BoundTokenOnlySpeaksForItsProxy(t *testing.T) {
	t.Parallel()
	th := newTestHub(t)
	off := false
	th.tenant("acme", hub.TenantSettings{AutoRegister: &off})
	bound := th.token("acme", hub.NewToken{Label: "edge-1 only", Proxy: "edge-1"})
	unbound := th.token("acme")

	assertProblem(t, th.do(request{target: "/proxy_server?name=edge-2", bearer: bound}), http.StatusForbidden)
	th.heartbeat(bound, "edge-1", "203.0.113.1:1", http.StatusOK) // a bound token registers its own name
	p := assertProblem(t, th.do(request{target: "/proxy_server?name=edge-3", bearer: unbound}), http.StatusForbidden)
	if p["type"] != string(api.ProblemProxyNotRegistered) || !strings.Contains(p["detail"].(string), "not registered") {
		t.Errorf("detail %q", p["detail"])
	}
	th.heartbeat(unbound, "edge-1", "203.0.113.2:1", http.StatusOK) // existing names work with any token
	if n := len(th.proxies("acme")); n != 1 {
		t.Fatalf("%d proxies, want 1", n)
	}
}

func TestHeartbeat_QuotaRefusesNewNamesOnly(t *testing.T) {
	t.Parallel()
	th := newTestHub(t)
	two := 2
	th.tenant("acme", hub.TenantSettings{MaxProxies: &two})
	tok := th.token("acme")
	th.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK)
	th.heartbeat(tok, "edge-2", "203.0.113.2:1", http.StatusOK)
	p := assertProblem(t, th.do(request{target: "/proxy_server?name=edge-3", bearer: tok}), http.StatusForbidden)
	if p["type"] != string(api.ProblemQuotaExceeded) || !strings.Contains(p["detail"].(string), "quota exceeded") {
		t.Errorf("detail %q", p["detail"])
	}
	th.heartbeat(tok, "edge-1", "203.0.113.9:1", http.StatusOK)
	if n := len(th.proxies("acme")); n != 2 {
		t.Fatalf("%d proxies, want 2", n)
	}
}
