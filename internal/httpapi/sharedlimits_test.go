package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/ratelimit"
	"github.com/proxyhub/proxyhub/internal/redistest"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

// withRedis shares the hub's limits through the Redis at url, with a
// heartbeat budget of perName a minute per token and name.
func withRedis(url string, perName uint64) hubOption {
	return func(o *app.Options) {
		o.Config.RedisURL = url
		o.Config.RateHeartbeat = ratelimit.Rate{Tokens: perName, Interval: time.Minute}
	}
}

func TestRateLimit_SharedAcrossHubsThroughRedis(t *testing.T) {
	t.Parallel()
	url := "redis://" + redistest.Addr(t) + "/0"
	store := memory.New() // two hubs of one fleet: one store, one Redis
	a := newTestHub(t, withStore(store), withRedis(url, 4))
	b := newTestHub(t, withStore(store), withRedis(url, 4))
	a.tenant("acme")
	tok := a.token("acme") // the token id is random: no other run shares its keys
	for i := range 4 {
		[]*testHub{a, b}[i%2].heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK)
	}
	for _, th := range []*testHub{a, b} {
		res := th.do(request{target: "/proxy_server?name=edge-1", peer: "203.0.113.1:1", bearer: tok})
		assert429(t, res)
	}
	// Another name has its own budget, on either hub.
	b.heartbeat(tok, "edge-2", "203.0.113.2:1", http.StatusOK)
	if res := a.do(request{target: "/readyz"}); res.code != http.StatusOK || res.json(t)["rate_limits"] != "shared" {
		t.Fatalf("readyz: %d %s", res.code, res.body)
	}
	if m := a.do(request{target: "/metrics"}); !strings.Contains(string(m.body), "proxyhub_ratelimit_shared 1") {
		t.Fatal("metrics do not say the limits are shared")
	}
}

func TestRateLimit_UnreachableRedisKeepsPerHubLimits(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1: Redis is configured but unreachable.
	th, tok := newAcme(t, withRedis("redis://127.0.0.1:1/0", 3))
	for range 3 {
		th.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK)
	}
	assert429(t, th.do(request{target: "/proxy_server?name=edge-1", peer: "203.0.113.1:1", bearer: tok}))
	res := th.do(request{target: "/readyz"})
	if res.code != http.StatusOK || res.json(t)["rate_limits"] != "per-hub-redis-unreachable" {
		t.Fatalf("readyz: %d %s", res.code, res.body)
	}
	if m := th.do(request{target: "/metrics"}); !strings.Contains(string(m.body), "proxyhub_ratelimit_shared 0") {
		t.Fatal("metrics do not say the limits are per hub")
	}
	if n := strings.Count(th.logs.String(), "Redis is unreachable"); n != 1 {
		t.Fatalf("the outage was logged %d times, want once", n)
	}
	if res := newTestHub(t).do(request{target: "/readyz"}); res.json(t)["rate_limits"] != "per-hub" {
		t.Fatalf("readyz without Redis: %s", res.body)
	}
}
