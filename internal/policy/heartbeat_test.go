package policy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/proxyhub/proxyhub/internal/hub"
)

func prefixes(ss ...string) []netip.Prefix {
	ps := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		ps[i] = netip.MustParsePrefix(s)
	}
	return ps
}

func TestHeartbeat_Decisions(t *testing.T) {
	e := newEngine(t)
	err := e.LoadTenants(t.Context(), []hub.Tenant{
		{ID: "v4", Allowlist: prefixes("203.0.113.0/24")},
		{ID: "v6", Allowlist: prefixes("2001:db8::/32", "2001:db9::7/128")},
		{ID: "v6only", Allowlist: prefixes("::/0")},
		{ID: "open", AdminAllowlist: prefixes("192.0.2.0/24")},
	})
	if err != nil {
		t.Fatal(err)
	}
	const (
		allowed  = "allowed"
		tenant   = "source_ip_not_allowed"
		token    = "source_ip_not_allowed_for_token"
		missing  = "source_ip_missing"
		narrow25 = "203.0.113.128/25"
	)
	tests := []struct {
		name, tenant, ip string
		tokenCIDRs       []netip.Prefix
		want             string
	}{
		{"first of /24", "v4", "203.0.113.0", nil, allowed},
		{"last of /24", "v4", "203.0.113.255", nil, allowed},
		{"just after /24", "v4", "203.0.114.0", nil, tenant},
		{"just before /24", "v4", "203.0.112.255", nil, tenant},
		{"IPv6 vs IPv4 list", "v4", "2001:db8::1", nil, tenant},
		{"IPv4-mapped, unfolded, is IPv6", "v4", "::ffff:203.0.113.1", nil, tenant},
		{"first of /32", "v6", "2001:db8::", nil, allowed},
		{"last of /32", "v6", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", nil, allowed},
		{"just after /32", "v6", "2001:db9::", nil, tenant},
		{"the /128", "v6", "2001:db9::7", nil, allowed},
		{"next to the /128", "v6", "2001:db9::8", nil, tenant},
		{"IPv4 vs IPv6 list", "v6", "203.0.113.1", nil, tenant},
		{"IPv4 vs ::/0", "v6only", "203.0.113.1", nil, tenant},
		{"IPv6 vs ::/0", "v6only", "2a00::1", nil, allowed},
		{"empty list", "open", "8.8.8.8", nil, allowed},
		{"unknown tenant", "nobody", "8.8.8.8", nil, allowed},
		{"token narrows: inside", "v4", "203.0.113.128", prefixes(narrow25), allowed},
		{"token narrows: outside", "v4", "203.0.113.127", prefixes(narrow25), token},
		{"outside both: tenant first", "v4", "8.8.8.8", prefixes(narrow25), tenant},
		{"token cannot widen", "v4", "198.51.100.1", prefixes("198.51.100.0/24"), tenant},
		{"token alone restricts", "open", "8.8.8.8", prefixes("198.51.100.0/24", "2001:db8::/32"), token},
		{"token IPv6", "open", "2001:db8::5", prefixes("198.51.100.0/24", "2001:db8::/32"), allowed},
		{"zone dropped", "v6", "2001:db8::1%eth0", nil, allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := HeartbeatInput{TenantID: tt.tenant, TokenID: "tok_1", Proxy: "p", TokenCIDRs: tt.tokenCIDRs, IP: netip.MustParseAddr(tt.ip)}
			d, err := e.Heartbeat(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Reason != tt.want || d.Allow != (tt.want == allowed) {
				t.Errorf("got %+v, want %s", d, tt.want)
			}
		})
	}
	t.Run("zero address", func(t *testing.T) {
		d, err := e.Heartbeat(t.Context(), HeartbeatInput{TenantID: "open"})
		if err != nil || d != (Decision{Reason: missing}) {
			t.Errorf("got %+v, %v; want refused, %s", d, err, missing)
		}
	})
}

// TestHeartbeat_InvalidPrefixRefuses: a prefix that cannot be written as a
// network never matches, so a broken allowlist refuses instead of opening.
func TestHeartbeat_InvalidPrefixRefuses(t *testing.T) {
	e := newEngine(t)
	if err := e.SetTenant(t.Context(), hub.Tenant{ID: "t", Allowlist: []netip.Prefix{{}}}); err != nil {
		t.Fatal(err)
	}
	d, err := e.Heartbeat(t.Context(), HeartbeatInput{TenantID: "t", IP: netip.MustParseAddr("8.8.8.8")})
	if err != nil || d.Allow {
		t.Errorf("got %+v, %v; want refused", d, err)
	}
}

// TestHeartbeat_DataUpdatesApplyWithoutRePreparing: each update is seen by the
// next decision (the cache is cleared) and no query is prepared again.
func TestHeartbeat_DataUpdatesApplyWithoutRePreparing(t *testing.T) {
	e := newEngine(t)
	ctx := t.Context()
	in := HeartbeatInput{TenantID: "acme", TokenID: "tok_1", Proxy: "p", IP: netip.MustParseAddr("203.0.113.9")}
	check := func(step string, want bool) {
		t.Helper()
		for range 2 { // the second answer comes from the cache
			d, err := e.Heartbeat(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != want {
				t.Fatalf("%s: got %+v, want allow=%v", step, d, want)
			}
		}
	}
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check("unknown tenant", true)
	mustDo(e.SetTenant(ctx, hub.Tenant{ID: "acme", Allowlist: prefixes("198.51.100.0/24")}))
	check("outside the new allowlist", false)
	mustDo(e.SetTenant(ctx, hub.Tenant{ID: "acme", Allowlist: prefixes("203.0.113.0/24")}))
	check("inside the changed allowlist", true)
	mustDo(e.SetTenant(ctx, hub.Tenant{ID: "acme", Allowlist: prefixes("2001:db8::/32")}))
	check("IPv6-only allowlist", false)
	mustDo(e.LoadTenants(ctx, []hub.Tenant{{ID: "acme", Allowlist: prefixes("198.51.100.0/24")}, {ID: "other"}}))
	check("loaded", false)
	mustDo(e.LoadTenants(ctx, []hub.Tenant{{ID: "other", Allowlist: prefixes("198.51.100.0/24")}}))
	check("reloaded without acme", true)
	mustDo(e.LoadTenants(ctx, nil))
	check("nothing loaded", true)

	if n := e.prepares.Load(); n != 2 {
		t.Errorf("%d queries prepared, want 2 (data updates must not re-prepare)", n)
	}
}

// TestDecisionCaches_ClearedByEveryUpdate: each of the engine's decision
// caches (heartbeat source decisions, authorization) is emptied by every
// kind of data update.
func TestDecisionCaches_ClearedByEveryUpdate(t *testing.T) {
	ips := []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"}
	acme := hub.Tenant{ID: "acme", Allowlist: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	for _, c := range []struct {
		name   string
		decide func(e *Engine, ip string) error
		len    func(e *Engine) int
	}{
		{"heartbeat", func(e *Engine, ip string) error {
			_, err := e.Heartbeat(t.Context(), HeartbeatInput{TenantID: "acme", IP: netip.MustParseAddr(ip)})
			return err
		}, func(e *Engine) int { return e.cache.len() }},
		{"authorize", func(e *Engine, ip string) error {
			_ = e.Authorize(fromIP(ip), ownerOf("acme"), TenantRead, Resource{TenantID: "acme"})
			return nil
		}, func(e *Engine) int { return e.authzCache.len() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t)
			ctx := t.Context()
			// acme has an allowlist, so each address is a decision of its own.
			if err := e.SetTenant(ctx, acme); err != nil {
				t.Fatal(err)
			}
			warm := func() {
				t.Helper()
				for _, ip := range ips {
					if err := c.decide(e, ip); err != nil {
						t.Fatal(err)
					}
				}
				if n := c.len(e); n != 3 {
					t.Fatalf("cache holds %d decisions, want 3", n)
				}
			}
			for _, u := range []struct {
				name   string
				update func() error
			}{
				{"SetTenant", func() error { return e.SetTenant(ctx, hub.Tenant{ID: "other"}) }},
				{"LoadTenants", func() error { return e.LoadTenants(ctx, []hub.Tenant{acme}) }},
			} {
				warm()
				if err := u.update(); err != nil {
					t.Fatalf("%s: %v", u.name, err)
				}
				if n := c.len(e); n != 0 {
					t.Errorf("after %s the cache holds %d decisions, want 0", u.name, n)
				}
			}
		})
	}
}

// TestHeartbeat_CacheKeyIncludesTokenCIDRs: the same token id with other
// networks is decided afresh.
func TestHeartbeat_CacheKeyIncludesTokenCIDRs(t *testing.T) {
	e := newEngine(t)
	in := HeartbeatInput{TenantID: "acme", TokenID: "tok_1", IP: netip.MustParseAddr("192.0.2.1")}
	for _, tc := range []struct {
		cidrs []netip.Prefix
		want  bool
	}{{nil, true}, {prefixes("198.51.100.0/24"), false}, {prefixes("192.0.2.0/24"), true}, {prefixes("192.0.2.0/25"), true}, {prefixes("192.0.2.128/25"), false}} {
		in.TokenCIDRs = tc.cidrs
		d, err := e.Heartbeat(t.Context(), in)
		if err != nil || d.Allow != tc.want {
			t.Errorf("token cidrs %v: got %+v, %v; want allow=%v", tc.cidrs, d, err, tc.want)
		}
	}
}

func TestDecisionCache_IsBounded(t *testing.T) {
	c := newDecisionCache[heartbeatKey, Decision](3)
	for i := range 10 {
		_, gen, _ := c.get(heartbeatKey{})
		c.put(heartbeatKey{token: string(rune('a' + i))}, Decision{Allow: true}, gen)
		if n := c.len(); n > 3 {
			t.Fatalf("cache holds %d decisions, want at most 3", n)
		}
	}
	if _, ok := c.m[heartbeatKey{token: "j"}]; !ok {
		t.Error("the newest decision was not kept")
	}
}

// TestDecisionCache_RefusesStaleDecisions: a decision computed before an
// update (older generation) is not stored after it.
func TestDecisionCache_RefusesStaleDecisions(t *testing.T) {
	c := newDecisionCache[heartbeatKey, Decision](10)
	k := heartbeatKey{tenant: "acme"}
	_, gen, _ := c.get(k)
	c.clear() // data changed while the decision was being computed
	c.put(k, Decision{Allow: true}, gen)
	if _, _, ok := c.get(k); ok {
		t.Error("a stale decision was cached")
	}
	_, gen, _ = c.get(k)
	c.put(k, Decision{Allow: true}, gen)
	if _, _, ok := c.get(k); !ok {
		t.Error("a current decision was not cached")
	}
}

func TestHeartbeat_ConcurrentWithUpdates(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	in := HeartbeatInput{TenantID: "acme", TokenID: "tok_1", Proxy: "p", IP: netip.MustParseAddr("203.0.113.9")}
	done := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				if _, err := e.Heartbeat(ctx, in); err != nil {
					errs <- err
					return
				}
				err := e.Authorize(fromIP("203.0.113.9"), ownerOf("acme"), TenantRead, Resource{TenantID: "acme"})
				if err != nil && !errors.Is(err, ErrForbidden) {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 200 {
		list := prefixes("203.0.113.0/24")
		if i%2 == 1 {
			list = prefixes("198.51.100.0/24")
		}
		if err := e.SetTenant(ctx, hub.Tenant{ID: "acme", Allowlist: list, AdminAllowlist: list}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// The last update (odd: 198.51.100.0/24) must be what decides now; no
	// decision cached from an earlier allowlist may survive it.
	d, err := e.Heartbeat(ctx, in)
	if err != nil || d.Allow {
		t.Errorf("after the last update: got %+v, %v; want refused", d, err)
	}
}

func TestHeartbeat_OneCacheEntryPerOpenTenantNotPerProxy(t *testing.T) {
	e := newEngine(t)
	ctx := t.Context()
	if err := e.SetTenant(ctx, hub.Tenant{ID: "open"}); err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		ip := netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)})
		d, err := e.Heartbeat(ctx, HeartbeatInput{TenantID: "open", TokenID: "tok_1", Proxy: fmt.Sprintf("edge-%d", i), IP: ip})
		if err != nil || !d.Allow {
			t.Fatalf("%v %v", d, err)
		}
	}
	if n := e.cache.len(); n != 1 {
		t.Fatalf("%d cache entries for 500 proxies of a tenant without allowlist, want 1", n)
	}
	// Once the tenant gets an allowlist the address matters again.
	if err := e.SetTenant(ctx, hub.Tenant{ID: "open", Allowlist: []netip.Prefix{netip.MustParsePrefix("11.0.0.0/24")}}); err != nil {
		t.Fatal(err)
	}
	in := HeartbeatInput{TenantID: "open", TokenID: "tok_1", Proxy: "edge-1", IP: netip.MustParseAddr("11.0.1.1")}
	if d, _ := e.Heartbeat(ctx, in); d.Allow {
		t.Fatal("an address outside the new allowlist was allowed from a stale cache entry")
	}
	in.IP = netip.MustParseAddr("11.0.0.1")
	if d, _ := e.Heartbeat(ctx, in); !d.Allow {
		t.Fatal("an address inside the allowlist was refused")
	}
}
