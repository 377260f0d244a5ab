package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/ratelimit"
)

// window is long enough that a stalled test machine does not refill a
// bucket between two requests that must share it.
const window = 1500 * time.Millisecond

func withLimits(heartbeat, admin, authFail uint64) hubOption {
	return func(o *app.Options) {
		o.Config.RateHeartbeat = ratelimit.Rate{Tokens: heartbeat, Interval: window}
		o.Config.RateAdmin = ratelimit.Rate{Tokens: admin, Interval: window}
		o.Config.RateAuthFailure = ratelimit.Rate{Tokens: authFail, Interval: window}
	}
}

func assert429(t *testing.T, res response) {
	t.Helper()
	assertProblem(t, res, http.StatusTooManyRequests)
	ra, err := strconv.Atoi(res.header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", res.header.Get("Retry-After"))
	}
	// The fields list every limit the request took from: the one used up
	// reads r=0.
	if !strings.Contains(strings.Join(res.header.Values("RateLimit"), ","), "r=0") || res.header.Get("RateLimit-Policy") == "" {
		t.Fatalf("RateLimit %q, RateLimit-Policy %q", res.header.Values("RateLimit"), res.header.Values("RateLimit-Policy"))
	}
}

func TestRateLimit_HeartbeatsPerTokenAndNameTripAndRecover(t *testing.T) {
	th, tok := newAcme(t, withLimits(2, 100, 100))
	for i := range 2 {
		res := th.do(request{target: "/proxy_server?name=edge-1", bearer: tok})
		if res.code != 200 || !strings.Contains(res.header.Get("RateLimit"), "r="+strconv.Itoa(1-i)) || !strings.Contains(res.header.Get("RateLimit-Policy"), `"heartbeat";q=2`) {
			t.Fatalf("heartbeat %d: %d RateLimit=%q Policy=%q", i, res.code, res.header.Get("RateLimit"), res.header.Get("RateLimit-Policy"))
		}
	}
	assert429(t, th.do(request{target: "/proxy_server?name=edge-1", bearer: tok}))
	if res := th.do(request{target: "/proxy_server?name=edge-2", bearer: tok}); res.code != 200 {
		t.Fatalf("another proxy name has its own budget: %d", res.code)
	}
	if res := th.do(request{target: "/proxy_server?name=edge-1", bearer: th.token("acme")}); res.code != 200 {
		t.Fatalf("another token has its own budget: %d", res.code)
	}
	time.Sleep(window + 100*time.Millisecond)
	if res := th.do(request{target: "/proxy_server?name=edge-1", bearer: tok}); res.code != 200 {
		t.Fatalf("after the window: %d %s", res.code, res.body)
	}
}

func TestRateLimit_FailedAuthenticationStallsGuessingFromOneAddress(t *testing.T) {
	th, tok := newAcme(t, withLimits(100, 100, 3))
	guess, _ := auth.NewSecret(auth.PrefixHeartbeatToken)
	for range 3 {
		assertProblem(t, th.do(request{target: "/status", bearer: guess, peer: "198.51.100.66:1"}), http.StatusUnauthorized)
	}
	// Used up: even a right token from that address waits, without a lookup.
	assert429(t, th.do(request{target: "/status", bearer: tok, peer: "198.51.100.66:2"}))
	if res := th.do(request{target: "/status", bearer: tok, peer: "198.51.100.67:1"}); res.code != 200 {
		t.Fatalf("another address is not affected: %d", res.code)
	}
	for range 5 { // successes do not count against the address
		if res := th.do(request{target: "/status", bearer: tok, peer: "198.51.100.68:1"}); res.code != 200 {
			t.Fatalf("good requests: %d", res.code)
		}
	}
	time.Sleep(window + 100*time.Millisecond)
	if res := th.do(request{target: "/status", bearer: tok, peer: "198.51.100.66:3"}); res.code != 200 {
		t.Fatalf("after the window: %d", res.code)
	}
}

func TestRateLimit_AdminPerPrincipal(t *testing.T) {
	th, _ := newAcme(t, withLimits(100, 2, 100))
	owner := th.jwt("acme", auth.RoleOwner)
	for range 2 {
		if res := th.do(request{target: "/v1/tenants/acme", bearer: owner}); res.code != 200 {
			t.Fatalf("%d", res.code)
		}
	}
	assert429(t, th.do(request{target: "/v1/tenants/acme/proxies", bearer: owner}))
	other, err := th.signer.Sign("someone-else", "acme", auth.RoleViewer, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if res := th.do(request{target: "/v1/tenants/acme", bearer: other}); res.code != 200 {
		t.Fatalf("another principal: %d", res.code)
	}
	// Public operations are not limited.
	for range 5 {
		if res := th.do(request{target: "/healthz"}); res.code != 200 {
			t.Fatal("healthz limited")
		}
	}
}

// Finding: the admin limit was keyed by the JWT subject alone, which is not
// unique across tenants (the CLI's default subject, an identity provider's
// user in several tenants): one tenant's admin could use up another's
// budget. Each tenant's (and role's) principal has its own.
func TestRateLimit_AdminBudgetIsPerTenantNotPerSubject(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t, withLimits(100, 2, 100))
	th.tenant("globex")
	acme, globex := th.jwt("acme", auth.RoleAdmin), th.jwt("globex", auth.RoleAdmin) // both "test-admin"
	for range 2 {
		if res := th.do(request{target: "/v1/tenants/acme", bearer: acme}); res.code != http.StatusOK {
			t.Fatalf("acme: %d", res.code)
		}
	}
	assert429(t, th.do(request{target: "/v1/tenants/acme", bearer: acme}))
	if res := th.do(request{target: "/v1/tenants/globex", bearer: globex}); res.code != http.StatusOK {
		t.Fatalf("globex's admin, same subject, after acme's used its budget: %d, want 200", res.code)
	}
	if res := th.do(request{target: "/v1/tenants/acme", bearer: th.jwt("acme", auth.RoleViewer)}); res.code != http.StatusOK {
		t.Fatalf("acme's viewer, same subject: %d, want 200", res.code)
	}
}

// Finding: /v1/auth/token let anyone try client secrets without limit.
// Failed attempts are limited per source address (which then waits, right
// secret or not) and per client id (whose wrong secrets then answer 429
// from any address, while its right secret still works: knowing a client
// id is not enough to lock its owner out), answered 429 with Retry-After,
// counted in the metrics and logged without the secret.
func TestRateLimit_TokenEndpointThrottlesFailedSecrets(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t, withLimits(100, 100, 3))
	res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/credentials", bearer: th.jwt("acme", auth.RoleAdmin),
		body: map[string]any{"role": "viewer", "label": "siem"}})
	cred := res.json(t)
	id, secret := cred["client_id"].(string), cred["client_secret"].(string)
	exchangeFrom := func(peer, clientID, sec string) response {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {sec}}.Encode()
		return th.do(request{method: http.MethodPost, target: "/v1/auth/token", body: form, peer: peer,
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
	}
	const guess = "phs_wrong-guess-of-the-secret"
	for i := range 3 {
		if res := exchangeFrom("198.51.100.1:1", id, guess); res.code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, res.code)
		}
	}
	// The address is stalled, even with the right secret.
	assert429(t, exchangeFrom("198.51.100.1:1", id, secret))
	// The client id's wrong secrets answer 429 from any other address...
	assert429(t, exchangeFrom("198.51.100.2:1", id, guess))
	// ...but its owner, with the right secret, is not locked out.
	if res := exchangeFrom("198.51.100.4:1", id, secret); res.code != http.StatusOK {
		t.Fatalf("the right secret after the client id's failures: %d %s", res.code, res.body)
	}
	// Another client from another address is not.
	if res := exchangeFrom("198.51.100.3:1", "phc_someoneelse000000", guess); res.code != http.StatusUnauthorized {
		t.Fatalf("another client: %d, want 401", res.code)
	}
	if strings.Contains(th.logs.String(), guess) || strings.Contains(th.logs.String(), secret) {
		t.Fatal("a client secret was logged")
	}
	metrics := string(th.do(request{target: "/metrics"}).body)
	if !strings.Contains(metrics, `proxyhub_authentication_failures_total{method="client_credentials"} 5`) {
		t.Fatalf("failures not counted:\n%s", grepLines(metrics, "authentication_failures"))
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Finding: limits were per token and proxy name only, so one token could
// send 6 a minute to each of any number of names (about 60,000 a minute
// at the default quota). A token also has a budget across all its names:
// by default twice its tenant's max_proxies a minute (at least 600), or
// the hub's own setting.
func TestRateLimit_TokenBudgetAcrossNames(t *testing.T) {
	t.Parallel()
	t.Run("per tenant", func(t *testing.T) {
		t.Parallel()
		th := newTestHub(t)
		small := 10
		th.tenant("acme", hub.TenantSettings{MaxProxies: &small}) // budget max(2×10, 600) = 600 a minute
		tok := th.token("acme")
		budget := hub.TokenHeartbeatsPerMinute(hub.Tenant{MaxProxies: small})
		for i := range budget {
			name := fmt.Sprintf("edge-%d", i%small) // within the quota; the per-name limit is not what trips
			if res := th.do(request{target: "/proxy_server?name=" + name, peer: "203.0.113.7:1", bearer: tok}); res.code != http.StatusOK {
				t.Fatalf("heartbeat %d of %d: %d %s", i+1, budget, res.code, res.body)
			}
		}
		res := th.do(request{target: "/proxy_server?name=edge-0", peer: "203.0.113.7:1", bearer: tok})
		assert429(t, res)
		if !strings.Contains(strings.Join(res.header.Values("RateLimit-Policy"), ","), fmt.Sprintf(`"heartbeat-token";q=%d;w=60`, budget)) {
			t.Errorf("RateLimit-Policy %q", res.header.Values("RateLimit-Policy"))
		}
		// Another token of the tenant has its own budget.
		if res := th.do(request{target: "/proxy_server?name=edge-0", peer: "203.0.113.7:1", bearer: th.token("acme")}); res.code != http.StatusOK {
			t.Fatalf("another token: %d", res.code)
		}
	})
	t.Run("hub setting", func(t *testing.T) {
		t.Parallel()
		th, tok := newAcme(t, func(o *app.Options) { o.Config.RateHeartbeatToken = ratelimit.Rate{Tokens: 5, Interval: time.Minute} })
		for i := range 5 {
			th.heartbeat(tok, fmt.Sprintf("edge-%d", i), "203.0.113.7:1", http.StatusOK)
		}
		assert429(t, th.do(request{target: "/proxy_server?name=edge-99", peer: "203.0.113.7:1", bearer: tok}))
	})
}
