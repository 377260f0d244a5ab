package policy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/policies"
)

// sameError reports how got differs from want ("" when it does not): the
// same nil-ness, the same sentinel for errors.Is, the same message.
func sameError(got, want error) string {
	if (got == nil) != (want == nil) {
		return fmt.Sprintf("got %v, want %v", got, want)
	}
	if got == nil {
		return ""
	}
	for _, s := range []error{ErrHidden, ErrForbidden} {
		if errors.Is(got, s) != errors.Is(want, s) {
			return fmt.Sprintf("errors.Is(%q, %v) = %v, want %v", got, s, errors.Is(got, s), errors.Is(want, s))
		}
	}
	if got.Error() != want.Error() {
		return fmt.Sprintf("message %q, want %q", got, want)
	}
	return ""
}

// TestAuthorize_CacheHitIsTheMiss: on every combination of the parity tests,
// from inside, outside and without a client IP, the second call (a hit)
// returns exactly what the first (a miss) and an uncached evaluation return.
func TestAuthorize_CacheHitIsTheMiss(t *testing.T) {
	e := newEngine(t)
	err := e.LoadTenants(t.Context(), []hub.Tenant{
		{ID: "acme", AdminAllowlist: prefixes("192.0.2.0/24")},
		{ID: "globex"},
	})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	hits := 0
	for _, ctx := range []context.Context{context.Background(), fromIP("192.0.2.1"), fromIP("8.8.8.8")} {
		for _, c := range parityCases() {
			miss := e.Authorize(ctx, c.p, c.a, c.r)
			n := e.authzCache.len()
			hit := e.Authorize(ctx, c.p, c.a, c.r)
			if e.authzCache.len() != n {
				t.Fatalf("%+v %s %+v: the second call was not a hit", c.p, c.a, c.r)
			}
			hits++
			o, err := e.evalAuthorize(ctx, c.p, c.a, c.r)
			if err != nil {
				t.Fatal(err)
			}
			if d := sameError(miss, o.err()); d != "" {
				t.Errorf("%+v %s %+v: miss: %s", c.p, c.a, c.r, d)
			}
			if d := sameError(hit, miss); d != "" {
				t.Errorf("%+v %s %+v: hit: %s", c.p, c.a, c.r, d)
			}
			counts[outcome(hit)]++
		}
	}
	t.Logf("%d hits: %v; %d decisions cached", hits, counts, e.authzCache.len())
	for _, o := range []string{"allow", "forbidden", "hidden"} {
		if counts[o] == 0 {
			t.Errorf("no case was %s", o)
		}
	}
}

// TestAuthorize_HitsComeFromTheCache plants a decision the policy would never
// make and sees it answered, to principals that differ only by id (the
// embedded policies do not read it) but not to another client IP.
func TestAuthorize_HitsComeFromTheCache(t *testing.T) {
	e := newEngine(t)
	ctx := fromIP("192.0.2.7")
	alice := ownerOf("acme")
	bob := alice
	bob.ID = "bob"
	r := Resource{TenantID: "acme"}
	if err := e.Authorize(ctx, alice, TenantRead, r); err != nil {
		t.Fatal(err)
	}
	k := e.authzKey(ctx, alice, TenantRead, r)
	_, gen, ok := e.authzCache.get(k)
	if !ok {
		t.Fatal("the decision was not cached")
	}
	e.authzCache.put(k, authzOutcome{kind: outcomeHidden, reason: "planted"}, gen)

	for _, p := range []auth.Principal{alice, bob} {
		err := e.Authorize(ctx, p, TenantRead, r)
		if !errors.Is(err, ErrHidden) || err.Error() != "policy: not visible to this principal: planted" {
			t.Errorf("%s: got %v, want the planted decision", p.ID, err)
		}
	}
	if err := e.Authorize(fromIP("192.0.2.8"), alice, TenantRead, r); err != nil {
		t.Errorf("another client IP: got %v, want allowed", err)
	}
}

// TestAuthorize_CacheKeyHoldsEveryInput: changing any input the policy reads
// changes the key; the principal's id (not read by the embedded policies)
// and the zone of the client IP (not in client_ip) do not.
func TestAuthorize_CacheKeyHoldsEveryInput(t *testing.T) {
	e := newEngine(t)
	if e.keyPrincipalID {
		t.Fatal("the embedded policies read input.principal.id?")
	}
	p := auth.Principal{Kind: auth.KindHeartbeat, ID: "tok_1", TenantID: "acme", Role: "", Proxy: "proxy001"}
	r := Resource{TenantID: "acme", GrantRole: "", Proxy: "proxy001"}
	a := HeartbeatSend
	ctx := fromIP("192.0.2.1")
	base := e.authzKey(ctx, p, a, r)

	differ := map[string]authorizeKey{}
	for name, change := range map[string]func(*auth.Principal, *Resource){
		"kind":            func(p *auth.Principal, _ *Resource) { p.Kind = auth.KindAdmin },
		"tenant":          func(p *auth.Principal, _ *Resource) { p.TenantID = "globex" },
		"role":            func(p *auth.Principal, _ *Resource) { p.Role = auth.RoleOwner },
		"bound proxy":     func(p *auth.Principal, _ *Resource) { p.Proxy = "proxy002" },
		"resource tenant": func(_ *auth.Principal, r *Resource) { r.TenantID = "globex" },
		"grant role":      func(_ *auth.Principal, r *Resource) { r.GrantRole = auth.RoleViewer },
		"resource proxy":  func(_ *auth.Principal, r *Resource) { r.Proxy = "proxy002" },
	} {
		p, r := p, r
		change(&p, &r)
		differ[name] = e.authzKey(ctx, p, a, r)
	}
	differ["action"] = e.authzKey(ctx, p, StatusRead, r)
	// The client IP matters to admin principals (the admin allowlist), not
	// to heartbeat tokens.
	admin := p
	admin.Kind, admin.Role, admin.Proxy = auth.KindAdmin, auth.RoleOwner, ""
	adminBase := e.authzKey(ctx, admin, a, r)
	if k := e.authzKey(fromIP("192.0.2.2"), admin, a, r); k == adminBase {
		t.Error("admin principal, client IP: same key")
	}
	if k := e.authzKey(context.Background(), admin, a, r); k == adminBase {
		t.Error("admin principal, no client IP: same key")
	}
	if k := e.authzKey(fromIP("192.0.2.2"), p, a, r); k != base {
		t.Error("heartbeat token, another client IP: the key differs, so every address would miss the cache")
	}
	unbound := p
	unbound.Proxy = ""
	ub := e.authzKey(ctx, unbound, a, r)
	r2 := r
	r2.Proxy = "proxy999"
	if k := e.authzKey(ctx, unbound, a, r2); k != ub {
		t.Error("unbound token, another proxy: the key differs, so every proxy would miss the cache")
	}
	for name, k := range differ {
		if k == base {
			t.Errorf("%s: same key", name)
		}
	}

	same := map[string]authorizeKey{}
	{
		p := p
		p.ID = "tok_2"
		p.AllowedCIDRs = prefixes("10.0.0.0/8") // not an input of the admin policy
		same["id"] = e.authzKey(ctx, p, a, r)
	}
	for name, k := range same {
		if k != base {
			t.Errorf("%s: different key", name)
		}
	}

	// The zone is not part of client_ip; a failed resolution is no client IP.
	failed := clientip.WithResult(context.Background(), clientip.Result{Client: netip.MustParseAddr("192.0.2.1")}, clientip.ErrNotResolved)
	if e.authzKey(fromIP("fe80::1%eth0"), p, a, r) != e.authzKey(fromIP("fe80::1"), p, a, r) {
		t.Error("zone: different key")
	}
	if e.authzKey(failed, p, a, r) != e.authzKey(context.Background(), p, a, r) {
		t.Error("failed resolution: not the key of an unknown client IP")
	}
}

// TestAuthorize_CachedDecisionFlipsWithData: a cached decision follows every
// change of the tenant's admin allowlist, by each kind of write, with the
// exact refusal message; the bound heartbeat token is never affected.
func TestAuthorize_CachedDecisionFlipsWithData(t *testing.T) {
	e := newEngine(t)
	ctx := t.Context()
	from := fromIP("8.8.8.8")
	owner := ownerOf("acme")
	r := Resource{TenantID: "acme"}
	token := auth.Principal{Kind: auth.KindHeartbeat, ID: "tok_1", TenantID: "acme", Proxy: "proxy001"}
	const outside = "policy: forbidden: client IP is outside the tenant's admin allowlist"
	check := func(step string, wantAllow bool) {
		t.Helper()
		for i := range 3 { // the first call may evaluate; the others are hits
			err := e.Authorize(from, owner, TenantUpdate, r)
			if wantAllow && err != nil || !wantAllow && (!errors.Is(err, ErrForbidden) || err.Error() != outside) {
				t.Fatalf("%s (call %d): got %v, want allowed=%v", step, i, err, wantAllow)
			}
			if err := e.Authorize(from, token, HeartbeatSend, Resource{TenantID: "acme", Proxy: "proxy001"}); err != nil {
				t.Fatalf("%s (call %d): heartbeat.send: %v", step, i, err)
			}
		}
		if n := e.authzCache.len(); n != 2 {
			t.Fatalf("%s: cache holds %d decisions, want 2", step, n)
		}
	}
	mustDo := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check("unknown tenant", true)
	mustDo(e.SetTenant(ctx, hub.Tenant{ID: "acme", AdminAllowlist: prefixes("192.0.2.0/24")}))
	check("SetTenant: outside", false)
	mustDo(e.SetTenant(ctx, hub.Tenant{ID: "acme", AdminAllowlist: prefixes("192.0.2.0/24", "8.8.8.0/24")}))
	check("SetTenant: inside", true)
	mustDo(e.SetTenant(ctx, hub.Tenant{ID: "acme", AdminAllowlist: prefixes("2001:db8::/32")}))
	check("SetTenant: IPv6 only", false)
	mustDo(e.LoadTenants(ctx, []hub.Tenant{{ID: "acme", AdminAllowlist: prefixes("192.0.2.0/24")}}))
	check("LoadTenants: outside", false)
	mustDo(e.LoadTenants(ctx, []hub.Tenant{{ID: "other", AdminAllowlist: prefixes("192.0.2.0/24")}}))
	check("LoadTenants without acme", true)
}

// TestAuthorize_CacheConcurrentWithUpdates (run with -race): decisions from
// several goroutines while the admin allowlist flips; afterwards the last
// data decides, from the cache too.
func TestAuthorize_CacheConcurrentWithUpdates(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	owner := ownerOf("acme")
	token := auth.Principal{Kind: auth.KindHeartbeat, ID: "tok_1", TenantID: "acme", Proxy: "proxy001"}
	a, b := fromIP("203.0.113.9"), fromIP("198.51.100.9")
	r := Resource{TenantID: "acme"}
	done := make(chan struct{})
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				from := a
				if (g+i)%2 == 1 {
					from = b
				}
				if err := e.Authorize(from, owner, TenantRead, r); err != nil && err.Error() != "policy: forbidden: client IP is outside the tenant's admin allowlist" {
					errs <- err
					return
				}
				if err := e.Authorize(from, token, HeartbeatSend, Resource{TenantID: "acme", Proxy: "proxy001"}); err != nil {
					errs <- err
					return
				}
				if err := e.Authorize(from, owner, ProxyList, Resource{TenantID: "globex"}); !errors.Is(err, ErrHidden) {
					errs <- fmt.Errorf("other tenant: %v", err)
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
		if err := e.SetTenant(ctx, hub.Tenant{ID: "acme", AdminAllowlist: list}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	// The last update (odd: 198.51.100.0/24) decides now.
	for range 2 {
		if err := e.Authorize(a, owner, TenantRead, r); !errors.Is(err, ErrForbidden) {
			t.Errorf("from 203.0.113.9 after the last update: got %v, want forbidden", err)
		}
		if err := e.Authorize(b, owner, TenantRead, r); err != nil {
			t.Errorf("from 198.51.100.9 after the last update: got %v, want allowed", err)
		}
	}
}

// TestAuthorize_CacheIsBounded: many distinct decisions never hold more
// entries than the bound, and stay correct when evicted.
func TestAuthorize_CacheIsBounded(t *testing.T) {
	e := newEngine(t)
	if err := e.SetTenant(t.Context(), hub.Tenant{ID: "acme", AdminAllowlist: prefixes("10.0.0.0/26")}); err != nil {
		t.Fatal(err)
	}
	const max = 8
	e.authzCache = newDecisionCache[authorizeKey, authzOutcome](max)
	for round := range 2 {
		for i := range 128 {
			ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
			err := e.Authorize(fromIP(ip.String()), ownerOf("acme"), TenantRead, Resource{TenantID: "acme"})
			if (err == nil) != (i < 64) {
				t.Fatalf("round %d, %s: got %v", round, ip, err)
			}
			if n := e.authzCache.len(); n > max {
				t.Fatalf("cache holds %d decisions, want at most %d", n, max)
			}
		}
	}
	if n := e.authzCache.len(); n != max {
		t.Errorf("cache holds %d decisions, want %d", n, max)
	}
}

func TestDecisionCache_Nil(t *testing.T) {
	var c *decisionCache[authorizeKey, authzOutcome]
	c.put(authorizeKey{}, authzOutcome{}, 0)
	c.clear()
	if _, _, ok := c.get(authorizeKey{}); ok || c.len() != 0 {
		t.Error("a nil cache cached something")
	}
}

func TestReadsPrincipalID(t *testing.T) {
	modules, err := parseModules(policies.FS, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if readsPrincipalID(modules) {
		t.Error("the embedded policies: got true, want false (admin.rego does not read input.principal.id)")
	}
	tests := []struct {
		src  string
		want bool
	}{
		{`p if input.principal.kind == "admin"`, false},
		{`p := object.get(input.principal, "role", "")`, false},
		{`p := object.get(input.resource, "id", "")`, false},
		{`p if object.get(input.principal, "proxy", input.resource.proxy) == ""`, false},
		{`p if input.resource.id == "x"`, false},
		{`p := input.client_ip`, false},
		{`p := data.tenants[input.principal.tenant]`, false},
		{`p if input.principal.id == "x"`, true},
		{`p := object.get(input.principal, "id", "")`, true},
		{`p if object.get(input.principal, "role", input.principal.id) == ""`, true},
		{`p := object.get(input.principal, ["id"], "")`, true},
		{`p := object.get(input, "principal", {})`, true},
		{`p contains k if some k, _ in input.principal`, true},
		{`p if input.principal[_] == "x"`, true},
		{`p if input[_].id == "x"`, true},
		{`p := input.principal`, true},
		{`p := input`, true},
		{`p := json.marshal(input)`, true},
		{`p := data.tenants[input.principal.id]`, true},
		{`q[input.principal.id] := 1`, true},
		{`q[input.principal.id].r := 1`, true},
		{"import input.principal as pr\n\np := pr.role", true},
		{`p if { x := {"a": input.principal.id}; x.a == "" }`, true},
		{`p := [x | some x in input.principal]`, true},
	}
	for _, tt := range tests {
		src := "package proxyhub.admin\n\n" + tt.src + "\n"
		m, err := ast.ParseModuleWithOpts("x.rego", src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if got := readsPrincipalID(map[string]*ast.Module{"x.rego": m}); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.src, got, tt.want)
		}
	}
}

// TestAuthorize_CustomPolicyReadingIDIsKeyedByID: an operator's policy that
// decides on the principal's id gets the id into the cache key.
func TestAuthorize_CustomPolicyReadingIDIsKeyedByID(t *testing.T) {
	dir := writePolicies(t, map[string]string{
		"heartbeat.rego": customHeartbeat,
		"admin.rego": `package proxyhub.admin

default decision := {"allow": false, "hidden": false, "reason": "not alice"}

decision := {"allow": true, "hidden": false, "reason": "alice"} if input.principal.id == "alice"
`,
	})
	e, err := New(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !e.keyPrincipalID {
		t.Fatal("keyPrincipalID is false for a policy reading input.principal.id")
	}
	alice, bob := ownerOf("acme"), ownerOf("acme")
	bob.ID = "bob"
	for range 2 {
		if err := e.Authorize(t.Context(), alice, TenantRead, Resource{TenantID: "acme"}); err != nil {
			t.Errorf("alice: %v", err)
		}
		if err := e.Authorize(t.Context(), bob, TenantRead, Resource{TenantID: "acme"}); !errors.Is(err, ErrForbidden) {
			t.Errorf("bob: got %v, want forbidden", err)
		}
	}
	if n := e.authzCache.len(); n != 2 {
		t.Errorf("cache holds %d decisions, want 2", n)
	}
}

// TestNew_NondeterministicPoliciesAreNotCached: a policy calling
// time.now_ns can change its answer with no data write, so nothing is cached.
func TestNew_NondeterministicPoliciesAreNotCached(t *testing.T) {
	dir := writePolicies(t, map[string]string{
		"heartbeat.rego": "package proxyhub.heartbeat\n\ndecision := {\"allow\": false, \"reason\": sprintf(\"%d\", [time.now_ns()])}\n",
		"admin.rego":     "package proxyhub.admin\n\ndecision := {\"allow\": false, \"hidden\": false, \"reason\": sprintf(\"%d\", [time.now_ns()])}\n",
	})
	e, err := New(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if e.cache != nil || e.authzCache != nil {
		t.Fatal("caches made for non-deterministic policies")
	}
	authzSeen, heartbeatSeen := map[string]bool{}, map[string]bool{}
	for range 3 {
		err := e.Authorize(t.Context(), ownerOf("acme"), TenantRead, Resource{TenantID: "acme"})
		if !errors.Is(err, ErrForbidden) {
			t.Fatalf("got %v, want forbidden", err)
		}
		authzSeen[err.Error()] = true
		d, err := e.Heartbeat(t.Context(), HeartbeatInput{TenantID: "acme", IP: netip.MustParseAddr("192.0.2.1")})
		if err != nil {
			t.Fatal(err)
		}
		heartbeatSeen[d.Reason] = true
	}
	if len(authzSeen) < 2 || len(heartbeatSeen) < 2 {
		t.Errorf("answers %v, %v: some came from a cache", authzSeen, heartbeatSeen)
	}
	// SetTenant works without caches.
	if err := e.SetTenant(t.Context(), hub.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if got := nondeterministicCalls(map[string]*ast.Module{}); len(got) != 0 {
		t.Errorf("no modules: %v", got)
	}
	modules, err := parseModules(policies.FS, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := nondeterministicCalls(modules); len(got) != 0 {
		t.Errorf("the embedded policies call %s", strings.Join(got, ", "))
	}
}
