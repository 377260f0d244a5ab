package policy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/hub"
)

var allActions = []Action{
	HeartbeatSend, StatusRead,
	TenantCreate, TenantList, TenantRead, TenantUpdate, AdminAllowlistUpdate,
	TokenCreate, TokenList, TokenRevoke,
	CredentialCreate, CredentialList, CredentialRevoke,
	ProxyList, ProxyRead, ProxyDelete, ProxyUpdate,
	AuditRead, WebhookRead, WebhookWrite, BadgeRead, BadgeWrite, MaintenanceRead, MaintenanceWrite,
}

var allRoles = []auth.Role{auth.RolePlatform, auth.RoleOwner, auth.RoleAdmin, auth.RoleViewer, "", "superuser"}

func newEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := New(context.Background(), Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// fromIP returns a context whose resolved client IP is ip.
func fromIP(ip string) context.Context {
	return clientip.WithResult(context.Background(), clientip.Result{Client: netip.MustParseAddr(ip)}, nil)
}

// parityCases is every combination the Go rules distinguish: kind × role ×
// principal tenant × resource tenant (same, other, hub-wide) × action, with
// every grant role for credential.create and bound/unbound tokens and
// matching/other/no proxy for heartbeat.send.
func parityCases() []struct {
	p auth.Principal
	a Action
	r Resource
} {
	type c = struct {
		p auth.Principal
		a Action
		r Resource
	}
	var cases []c
	for _, kind := range []auth.Kind{auth.KindAdmin, auth.KindHeartbeat} {
		for _, role := range allRoles {
			for _, ptenant := range []string{"acme", ""} {
				for _, bound := range []string{"", "proxy001"} {
					p := auth.Principal{Kind: kind, ID: "x", TenantID: ptenant, Role: role, Proxy: bound}
					for _, rtenant := range []string{"acme", "globex", ""} {
						for _, a := range allActions {
							r := Resource{TenantID: rtenant}
							switch a {
							case CredentialCreate, CredentialRevoke:
								for _, g := range allRoles {
									r.GrantRole = g
									cases = append(cases, c{p, a, r})
								}
							case HeartbeatSend:
								for _, proxy := range []string{"proxy001", "proxy002", ""} {
									r.Proxy = proxy
									cases = append(cases, c{p, a, r})
								}
							default:
								cases = append(cases, c{p, a, r})
							}
						}
					}
				}
			}
		}
	}
	return cases
}

// TestAuthorize_ParityWithGoRules checks the Rego policy against
// goRules, the same rules stated in Go, on every combination: same outcome,
// same sentinel, same message. No tenant has an admin allowlist here.
func TestAuthorize_ParityWithGoRules(t *testing.T) {
	e := newEngine(t)
	if err := e.SetTenant(t.Context(), hub.Tenant{ID: "acme", Allowlist: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}); err != nil {
		t.Fatal(err)
	}
	cases := parityCases()
	counts := map[string]int{}
	for _, ctx := range []context.Context{context.Background(), fromIP("192.0.2.1")} {
		for _, c := range cases {
			want := goRules{}.Authorize(ctx, c.p, c.a, c.r)
			got := e.Authorize(ctx, c.p, c.a, c.r)
			if outcome(got) != outcome(want) || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%+v %s %+v: got %v, want %v", c.p, c.a, c.r, got, want)
			}
			counts[outcome(want)]++
		}
	}
	t.Logf("%d cases: %v", 2*len(cases), counts)
	for _, o := range []string{"allow", "forbidden", "hidden"} {
		if counts[o] == 0 {
			t.Errorf("no case was %s", o)
		}
	}
}

// TestAuthorize_ParityInsideAdminAllowlist: an admin allowlist changes
// nothing for calls from inside it.
func TestAuthorize_ParityInsideAdminAllowlist(t *testing.T) {
	e := newEngine(t)
	err := e.LoadTenants(t.Context(), []hub.Tenant{
		{ID: "acme", AdminAllowlist: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}},
		{ID: "globex", AdminAllowlist: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := fromIP("192.0.2.200")
	for _, c := range parityCases() {
		want := goRules{}.Authorize(ctx, c.p, c.a, c.r)
		if got := e.Authorize(ctx, c.p, c.a, c.r); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%+v %s %+v: got %v, want %v", c.p, c.a, c.r, got, want)
		}
	}
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "allow"
	case errors.Is(err, ErrHidden):
		return "hidden"
	case errors.Is(err, ErrForbidden):
		return "forbidden"
	}
	return "error: " + err.Error()
}

// TestAuthorize_AdminAllowlist covers the rule the Go rules did not have.
func TestAuthorize_AdminAllowlist(t *testing.T) {
	e := newEngine(t)
	err := e.LoadTenants(t.Context(), []hub.Tenant{
		{ID: "locked", AdminAllowlist: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}},
		{ID: "open"},
	})
	if err != nil {
		t.Fatal(err)
	}
	owner := auth.Principal{Kind: auth.KindAdmin, ID: "alice", TenantID: "locked", Role: auth.RoleOwner}
	viewer := auth.Principal{Kind: auth.KindAdmin, ID: "bob", TenantID: "locked", Role: auth.RoleViewer}
	platform := auth.Principal{Kind: auth.KindAdmin, ID: "ops", Role: auth.RolePlatform}
	token := auth.Principal{Kind: auth.KindHeartbeat, ID: "tok_1", TenantID: "locked"}
	openOwner := auth.Principal{Kind: auth.KindAdmin, ID: "carol", TenantID: "open", Role: auth.RoleOwner}
	failed := clientip.WithResult(context.Background(), clientip.Result{}, clientip.ErrNotResolved)
	locked := Resource{TenantID: "locked"}

	tests := []struct {
		name string
		ctx  context.Context
		p    auth.Principal
		a    Action
		r    Resource
		want string
	}{
		{"first address inside", fromIP("192.0.2.0"), owner, TokenCreate, locked, "allow"},
		{"last address inside", fromIP("192.0.2.255"), owner, TokenCreate, locked, "allow"},
		{"IPv6 inside", fromIP("2001:db8::1"), viewer, ProxyList, locked, "allow"},
		{"just outside", fromIP("192.0.3.0"), owner, TenantRead, locked, "forbidden"},
		{"IPv6 outside", fromIP("2001:db9::1"), viewer, ProxyList, locked, "forbidden"},
		{"no client IP", context.Background(), owner, TenantRead, locked, "forbidden"},
		{"failed resolution", failed, owner, TenantRead, locked, "forbidden"},
		{"inside, but not the role's", fromIP("192.0.2.1"), viewer, TokenCreate, locked, "forbidden"},
		{"other tenant stays hidden", fromIP("8.8.8.8"), owner, ProxyList, Resource{TenantID: "open"}, "hidden"},
		{"platform exempt", fromIP("8.8.8.8"), platform, TokenRevoke, locked, "allow"},
		{"platform exempt without IP", context.Background(), platform, TenantUpdate, locked, "allow"},
		{"heartbeat tokens exempt", fromIP("8.8.8.8"), token, HeartbeatSend, Resource{TenantID: "locked", Proxy: "p"}, "allow"},
		{"empty admin allowlist", fromIP("8.8.8.8"), openOwner, TenantUpdate, Resource{TenantID: "open"}, "allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := e.Authorize(tt.ctx, tt.p, tt.a, tt.r)
			if got := outcome(err); got != tt.want {
				t.Fatalf("got %s (%v), want %s", got, err, tt.want)
			}
			if tt.want == "forbidden" && tt.name != "inside, but not the role's" {
				if want := "policy: forbidden: client IP is outside the tenant's admin allowlist"; err.Error() != want {
					t.Errorf("error %q, want %q", err, want)
				}
			}
		})
	}
}

// TestAuthorize_UnknownKindIsDenied: the one deliberate difference from
// goRules, which let a principal of an unknown kind act as a heartbeat
// token. The authenticator never makes one; the policy denies it.
func TestAuthorize_UnknownKindIsDenied(t *testing.T) {
	e := newEngine(t)
	p := auth.Principal{Kind: "robot", ID: "r", TenantID: "acme", Role: auth.RoleOwner}
	for _, a := range allActions {
		if err := e.Authorize(context.Background(), p, a, Resource{TenantID: "acme"}); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s: got %v, want forbidden", a, err)
		}
	}
}

// TestAuthorize_AdminAllowlistFollowsData: changing and removing a tenant's
// admin allowlist takes effect on the next call.
func TestAuthorize_AdminAllowlistFollowsData(t *testing.T) {
	e := newEngine(t)
	ctx := fromIP("8.8.8.8")
	p := auth.Principal{Kind: auth.KindAdmin, ID: "alice", TenantID: "acme", Role: auth.RoleOwner}
	r := Resource{TenantID: "acme"}
	check := func(want string) {
		t.Helper()
		if err := e.Authorize(ctx, p, TenantRead, r); outcome(err) != want {
			t.Fatalf("got %v, want %s", err, want)
		}
	}
	check("allow")
	if err := e.SetTenant(t.Context(), hub.Tenant{ID: "acme", AdminAllowlist: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}); err != nil {
		t.Fatal(err)
	}
	check("forbidden")
	if err := e.SetTenant(t.Context(), hub.Tenant{ID: "acme", AdminAllowlist: []netip.Prefix{netip.MustParsePrefix("8.8.8.0/24")}}); err != nil {
		t.Fatal(err)
	}
	check("allow")
	if err := e.SetTenant(t.Context(), hub.Tenant{ID: "acme", AdminAllowlist: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}); err != nil {
		t.Fatal(err)
	}
	check("forbidden")
	if err := e.SetTenant(t.Context(), hub.Tenant{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	check("allow")
	if n := e.prepares.Load(); n != 2 {
		t.Errorf("%d queries prepared, want 2 (data updates must not re-prepare)", n)
	}
}

func ownerOf(tenant string) auth.Principal {
	return auth.Principal{Kind: auth.KindAdmin, ID: "alice", TenantID: tenant, Role: auth.RoleOwner}
}
