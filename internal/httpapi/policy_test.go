package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
)

func putAllowlist(t *testing.T, th *testHub, body map[string]any) response {
	t.Helper()
	return th.do(request{method: http.MethodPut, target: "/v1/tenants/acme/allowlist", bearer: th.jwt("acme", auth.RoleAdmin), body: body})
}

func TestAllowlist_DeniesOutsideIPWithoutStateChangeAndKeepsARecord(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	th.heartbeat(tok, "edge-1", "203.0.113.7:1", http.StatusOK)
	if res := putAllowlist(t, th, map[string]any{"cidrs": []string{"203.0.113.0/24", "2001:db8::/32"}}); res.code != 200 {
		t.Fatalf("put allowlist: %d %s", res.code, res.body)
	}

	cases := []struct {
		peer string
		want int
	}{
		{"203.0.113.0:1", 200}, {"203.0.113.255:1", 200}, {"[2001:db8::1]:1", 200}, {"[2001:db8:ffff::1]:1", 200},
		{"203.0.114.0:1", 403}, {"203.0.112.255:1", 403}, {"[2001:db9::1]:1", 403}, {"[::ffff:198.51.100.1]:1", 403},
	}
	for _, tc := range cases {
		res := th.do(request{target: "/proxy_server?name=edge-1", bearer: tok, peer: tc.peer})
		if res.code != tc.want {
			t.Errorf("from %s: %d, want %d (%s)", tc.peer, res.code, tc.want, res.body)
		}
		if tc.want == 403 {
			p := assertProblem(t, res, 403)
			if d := p["detail"].(string); !strings.Contains(d, "source IP") || strings.Contains(d, "203.0.113.0") {
				t.Errorf("detail %q must say the source IP is not allowed without listing the allowlist", d)
			}
		}
	}
	// Back to an allowed IP: the denied heartbeats changed nothing.
	th.heartbeat(tok, "edge-1", "203.0.113.7:1", http.StatusOK)
	ps := th.proxies("acme")
	if ps[0].IP.String() != "203.0.113.7" {
		t.Fatalf("state after denials: %+v", ps[0])
	}
	d := th.do(request{target: "/v1/tenants/acme/denied", bearer: th.jwt("acme", auth.RoleViewer)}).json(t)["denied"].([]any)
	if len(d) != 4 {
		t.Fatalf("%d denied records, want 4", len(d))
	}
	first := d[3].(map[string]any)
	if first["ip"] != "203.0.114.0" || first["proxy"] != "edge-1" || !strings.HasPrefix(first["token_id"].(string), "tok_") || first["reason"] != "source_ip_not_allowed" {
		t.Fatalf("denied record %v", first)
	}
	// An empty list accepts any address again.
	putAllowlist(t, th, map[string]any{"cidrs": []string{}})
	th.heartbeat(tok, "edge-1", "198.51.100.1:1", http.StatusOK)
}

func TestAllowlist_TrustedProxyHeaderDecidesUntrustedIsIgnored(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t, withTrusted("10.0.0.0/8"))
	putAllowlist(t, th, map[string]any{"cidrs": []string{"203.0.113.0/24"}})
	xff := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	if res := th.do(request{target: "/proxy_server?name=edge-1", bearer: tok, peer: "10.0.0.5:1", header: xff("203.0.113.9")}); res.code != 200 {
		t.Fatalf("allowed client behind the trusted balancer: %d %s", res.code, res.body)
	}
	if res := th.do(request{target: "/proxy_server?name=edge-1", bearer: tok, peer: "10.0.0.5:1", header: xff("198.51.100.9")}); res.code != 403 {
		t.Fatalf("outside client behind the trusted balancer: %d", res.code)
	}
	// An outsider cannot spoof its way in with the header.
	if res := th.do(request{target: "/proxy_server?name=edge-1", bearer: tok, peer: "198.51.100.9:1", header: xff("203.0.113.9")}); res.code != 403 {
		t.Fatalf("spoofed header from an untrusted peer: %d", res.code)
	}
}

func TestAllowlist_TokenCIDRsNarrowTheTenantList(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	narrow := th.token("acme", hub.NewToken{Label: "dc1", AllowedCIDRs: []string{"203.0.113.0/28"}})
	th.heartbeat(narrow, "edge-1", "203.0.113.15:1", http.StatusOK)
	p := assertProblem(t, th.do(request{target: "/proxy_server?name=edge-1", bearer: narrow, peer: "203.0.113.16:1"}), http.StatusForbidden)
	if p["type"] != string(api.ProblemSourceNotAllowed) || !strings.Contains(p["detail"].(string), "source IP") {
		t.Fatalf("detail %v", p["detail"])
	}
}

func TestAllowlist_ValidationNamesTheBadEntry(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	cases := map[string]string{
		"203.0.113.7/24": "host bits",
		"2001:db8::1/32": "host bits",
		"banana":         "not a CIDR",
		"203.0.113.0":    "not a CIDR",
	}
	for entry, why := range cases {
		res := putAllowlist(t, th, map[string]any{"cidrs": []string{"198.51.100.0/24", entry}})
		p := assertProblem(t, res, http.StatusBadRequest)
		if !strings.Contains(string(res.body), entry) || !strings.Contains(string(res.body), why) || !strings.Contains(string(res.body), "body.cidrs[1]") {
			t.Errorf("%s: %v", entry, p)
		}
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = "10.0.0.0/8"
	}
	assertProblem(t, putAllowlist(t, th, map[string]any{"cidrs": many}), http.StatusUnprocessableEntity)
	got := putAllowlist(t, th, map[string]any{"cidrs": []string{"2001:DB8::/32", "203.0.113.0/24", "::ffff:198.51.100.0/120", "203.0.113.0/24"}}).json(t)
	if s := strings.Join(toStrings(got["cidrs"]), " "); s != "198.51.100.0/24 203.0.113.0/24 2001:db8::/32" {
		t.Fatalf("normalised: %s", s)
	}
	assertProblem(t, th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/tokens", bearer: th.jwt("acme", auth.RoleOwner),
		body: map[string]any{"label": "x", "allowed_cidrs": []string{"10.1.2.3/8"}}}), http.StatusBadRequest)
}

func TestAdminAllowlist_LimitsTenantAdminsNotThePlatform(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	owner := th.jwt("acme", auth.RoleOwner)
	if res := th.do(request{method: http.MethodPut, target: "/v1/tenants/acme/allowlist", bearer: owner, peer: "198.51.100.5:1",
		body: map[string]any{"cidrs": []string{}, "admin_cidrs": []string{"198.51.100.0/24"}}}); res.code != 200 {
		t.Fatalf("%d %s", res.code, res.body)
	}
	if res := th.do(request{target: "/v1/tenants/acme", bearer: owner, peer: "198.51.100.5:1"}); res.code != 200 {
		t.Fatalf("inside: %d", res.code)
	}
	assertProblem(t, th.do(request{target: "/v1/tenants/acme", bearer: owner, peer: "203.0.113.5:1"}), http.StatusForbidden)
	if res := th.do(request{target: "/v1/tenants/acme", bearer: th.jwt("", auth.RolePlatform), peer: "203.0.113.5:1"}); res.code != 200 {
		t.Fatalf("platform from outside: %d", res.code)
	}
}
