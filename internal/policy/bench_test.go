package policy

import (
	"context"
	"net/netip"
	"testing"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
)

// benchEngine is an engine with a few tenants, like a small hub.
func benchEngine(b *testing.B) *Engine {
	e := newEngine(b)
	err := e.LoadTenants(context.Background(), []hub.Tenant{
		{ID: "acme", Allowlist: prefixes("198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"),
			AdminAllowlist: prefixes("192.0.2.0/24")},
		{ID: "globex"},
	})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

var benchHeartbeat = HeartbeatInput{
	TenantID: "acme", TokenID: "tok_1", Proxy: "proxy001",
	IP: netip.MustParseAddr("203.0.113.77"),
}

// BenchmarkHeartbeat is the steady state: the decision is in the cache.
func BenchmarkHeartbeat(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.Heartbeat(ctx, benchHeartbeat); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeartbeat_TokenCIDRs: cached, for a token with its own networks
// (the cache key encodes them).
func BenchmarkHeartbeat_TokenCIDRs(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	in := benchHeartbeat
	in.TokenCIDRs = prefixes("203.0.113.0/25", "2001:db8:1::/48")
	for b.Loop() {
		if _, err := e.Heartbeat(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeartbeat_Uncached evaluates the policy every time (a cache
// miss, minus the cache bookkeeping).
func BenchmarkHeartbeat_Uncached(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	in := benchHeartbeat
	in.TokenCIDRs = prefixes("203.0.113.0/25")
	for b.Loop() {
		if _, err := e.evalHeartbeat(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeartbeat_AfterSetTenant is an update followed by a decision: a
// write transaction, a cleared cache and one evaluation, with no
// re-preparing.
func BenchmarkHeartbeat_AfterSetTenant(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	t := hub.Tenant{ID: "acme", Allowlist: prefixes("203.0.113.0/24")}
	for b.Loop() {
		if err := e.SetTenant(ctx, t); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Heartbeat(ctx, benchHeartbeat); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeartbeat_Parallel: cached decisions from every core at once.
func BenchmarkHeartbeat_Parallel(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.Heartbeat(ctx, benchHeartbeat); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

type authorizeBenchCase struct {
	name string
	ctx  context.Context
	p    auth.Principal
	a    Action
	r    Resource
	ok   bool
}

// authorizeBenchCases are decisions of each kind: allows by each kind of
// principal, a refusal by the admin allowlist, a hidden tenant.
func authorizeBenchCases() []authorizeBenchCase {
	inside := fromIP("192.0.2.10")
	owner := auth.Principal{Kind: auth.KindAdmin, ID: "alice", TenantID: "acme", Role: auth.RoleOwner}
	return []authorizeBenchCase{
		{"allow_owner_inside_admin_allowlist", inside, owner, CredentialCreate, Resource{TenantID: "acme", GrantRole: auth.RoleAdmin}, true},
		{"allow_heartbeat_token", context.Background(),
			auth.Principal{Kind: auth.KindHeartbeat, ID: "tok_1", TenantID: "acme", Proxy: "proxy001"},
			HeartbeatSend, Resource{TenantID: "acme", Proxy: "proxy001"}, true},
		{"allow_platform", context.Background(),
			auth.Principal{Kind: auth.KindAdmin, ID: "ops", Role: auth.RolePlatform}, TenantList, Resource{}, true},
		{"forbid_outside_admin_allowlist", fromIP("8.8.8.8"), owner, TenantRead, Resource{TenantID: "acme"}, false},
		{"hide_other_tenant", inside, owner, ProxyList, Resource{TenantID: "globex"}, false},
	}
}

// BenchmarkAuthorize is the steady state: the decision is in the cache (the
// first iteration fills it). A refusal is rebuilt as an error on each call.
func BenchmarkAuthorize(b *testing.B) {
	e := benchEngine(b)
	for _, c := range authorizeBenchCases() {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := e.Authorize(c.ctx, c.p, c.a, c.r); (err == nil) != c.ok {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthorize_Uncached evaluates the admin policy every time (a cache
// miss, minus the cache bookkeeping), for comparison.
func BenchmarkAuthorize_Uncached(b *testing.B) {
	e := benchEngine(b)
	for _, c := range authorizeBenchCases() {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				o, err := e.evalAuthorize(c.ctx, c.p, c.a, c.r)
				if err != nil {
					b.Fatal(err)
				}
				if err := o.err(); (err == nil) != c.ok {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchHeartbeatSend is the authorization every heartbeat request makes: a
// token bound to its proxy, from its resolved client IP.
var benchHeartbeatSend = struct {
	p auth.Principal
	r Resource
}{
	auth.Principal{Kind: auth.KindHeartbeat, ID: "tok_1", TenantID: "acme", Proxy: "proxy001",
		AllowedCIDRs: prefixes("203.0.113.0/24")},
	Resource{TenantID: "acme", Proxy: "proxy001"},
}

// BenchmarkAuthorize_HeartbeatSend: heartbeat.send, cached, as on every
// heartbeat.
func BenchmarkAuthorize_HeartbeatSend(b *testing.B) {
	e := benchEngine(b)
	ctx := fromIP("203.0.113.77")
	for b.Loop() {
		if err := e.Authorize(ctx, benchHeartbeatSend.p, HeartbeatSend, benchHeartbeatSend.r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorize_HeartbeatSend_Uncached: the same, evaluating the policy.
func BenchmarkAuthorize_HeartbeatSend_Uncached(b *testing.B) {
	e := benchEngine(b)
	ctx := fromIP("203.0.113.77")
	for b.Loop() {
		o, err := e.evalAuthorize(ctx, benchHeartbeatSend.p, HeartbeatSend, benchHeartbeatSend.r)
		if err != nil || o.err() != nil {
			b.Fatal(o, err)
		}
	}
}

// BenchmarkAuthorize_HeartbeatSend_Parallel: cached heartbeat.send decisions
// from every core at once.
func BenchmarkAuthorize_HeartbeatSend_Parallel(b *testing.B) {
	e := benchEngine(b)
	ctx := fromIP("203.0.113.77")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := e.Authorize(ctx, benchHeartbeatSend.p, HeartbeatSend, benchHeartbeatSend.r); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAuthorize_AfterSetTenant is an update followed by a decision: a
// write transaction, cleared caches and one evaluation.
func BenchmarkAuthorize_AfterSetTenant(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	from := fromIP("192.0.2.10")
	owner := auth.Principal{Kind: auth.KindAdmin, ID: "alice", TenantID: "acme", Role: auth.RoleOwner}
	t := hub.Tenant{ID: "acme", AdminAllowlist: prefixes("192.0.2.0/24")}
	for b.Loop() {
		if err := e.SetTenant(ctx, t); err != nil {
			b.Fatal(err)
		}
		if err := e.Authorize(from, owner, TenantRead, Resource{TenantID: "acme"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorize_GoRules is the Go implementation being replaced, for
// comparison.
func BenchmarkAuthorize_GoRules(b *testing.B) {
	p := auth.Principal{Kind: auth.KindAdmin, ID: "alice", TenantID: "acme", Role: auth.RoleOwner}
	r := Resource{TenantID: "acme", GrantRole: auth.RoleAdmin}
	ctx := context.Background()
	for b.Loop() {
		if err := (goRules{}).Authorize(ctx, p, CredentialCreate, r); err != nil {
			b.Fatal(err)
		}
	}
}
