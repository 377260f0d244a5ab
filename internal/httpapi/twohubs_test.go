package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// twoHubsOnOnePostgres starts two hubs, each with its own store on one
// PostgreSQL database and its background loops running (as two
// `proxyhub serve` processes behind a balancer).
func twoHubsOnOnePostgres(t *testing.T) (a, b *testHub) {
	t.Helper()
	url := pgtest.AppURL(t, pgtest.URL(t))
	hubs := make([]*testHub, 2)
	for i := range hubs {
		s, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		hubs[i] = newTestHub(t, withStore(s))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = hubs[i].app.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	return hubs[0], hubs[1]
}

// within retries check every 20 ms until it returns true or limit passes,
// and returns how long it took (or limit and false).
func within(limit time.Duration, check func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit {
		if check() {
			return time.Since(start), true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return limit, false
}

// TestTwoHubs_AllowlistChangeAppliesOnEveryHubWithinASecond: an admin
// narrows the tenant's allowlist through hub A; hub B, which has the
// tenant's settings and policy data cached from an earlier heartbeat,
// refuses heartbeats from outside the new list within a second, and
// accepts them again within a second of the list being cleared.
func TestTwoHubs_AllowlistChangeAppliesOnEveryHubWithinASecond(t *testing.T) {
	t.Parallel()
	a, b := twoHubsOnOnePostgres(t)
	a.tenant("acme")
	tok := a.token("acme")
	b.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK) // B caches acme
	owner := a.jwt("acme", auth.RoleOwner)

	beatOnB := func() int {
		return b.do(request{target: "/proxy_server?name=edge-1", peer: "203.0.113.1:1", bearer: tok}).code
	}
	for _, step := range []struct {
		cidrs []string
		want  int
	}{
		{[]string{"198.51.100.0/24"}, http.StatusForbidden},
		{[]string{}, http.StatusOK},
	} {
		res := a.do(request{method: http.MethodPut, target: "/v1/tenants/acme/allowlist", bearer: owner,
			body: map[string]any{"cidrs": step.cidrs, "admin_cidrs": []string{}}})
		if res.code != http.StatusOK {
			t.Fatalf("put allowlist %v on hub A: %d %s", step.cidrs, res.code, res.body)
		}
		took, ok := within(time.Second, func() bool { return beatOnB() == step.want })
		if !ok {
			t.Fatalf("allowlist %v set on hub A: hub B still answers %d after 1s, want %d", step.cidrs, beatOnB(), step.want)
		}
		t.Logf("figure: allowlist_%v_applied_on_other_hub=%v", step.cidrs, took.Round(time.Millisecond))
	}
}

// TestTwoHubs_RevokedTokenRefusedOnEveryHubWithinASecond: a token revoked
// through hub A is refused by hub B, which had it cached, within a second.
func TestTwoHubs_RevokedTokenRefusedOnEveryHubWithinASecond(t *testing.T) {
	t.Parallel()
	a, b := twoHubsOnOnePostgres(t)
	a.tenant("acme")
	tok := a.token("acme")
	b.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK)
	owner := a.jwt("acme", auth.RoleOwner)
	list := a.do(request{target: "/v1/tenants/acme/tokens", bearer: owner}).json(t)
	items, _ := list["tokens"].([]any)
	if len(items) != 1 {
		t.Fatalf("tokens of acme: %v", list)
	}
	id := items[0].(map[string]any)["id"].(string)
	if res := a.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/tokens/" + id, bearer: owner}); res.code != http.StatusNoContent {
		t.Fatalf("revoke on hub A: %d %s", res.code, res.body)
	}
	took, ok := within(time.Second, func() bool {
		// GET /status authenticates without writing: only the cache answers.
		return b.do(request{target: "/status", peer: "203.0.113.1:1", bearer: tok}).code == http.StatusUnauthorized
	})
	if !ok {
		t.Fatal("token revoked on hub A still accepted by hub B after 1s")
	}
	t.Logf("figure: revocation_applied_on_other_hub=%v", took.Round(time.Millisecond))
}
