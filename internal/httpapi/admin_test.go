package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// exchange runs the client credentials grant with a form body.
func (th *testHub) exchange(clientID, secret string) response {
	th.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}.Encode()
	return th.do(request{method: http.MethodPost, target: "/v1/auth/token", body: form,
		header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}})
}

func TestAdminFlow_TenantTokensCredentials(t *testing.T) {
	t.Parallel()
	th := newTestHub(t)
	platform := th.jwt("", auth.RolePlatform)
	var secrets []string

	// The platform creates a tenant; ids are validated and unique.
	res := th.do(request{method: http.MethodPost, target: "/v1/tenants", bearer: platform, body: map[string]any{"id": "acme", "name": "Acme", "offline_after": 120}})
	if res.code != http.StatusCreated {
		t.Fatalf("create tenant: %d %s", res.code, res.body)
	}
	if b := res.json(t); b["offline_after"] != 120.0 || b["max_proxies"] != 10000.0 || b["auto_register"] != true {
		t.Fatalf("tenant defaults: %v", b)
	}
	assertProblem(t, th.do(request{method: http.MethodPost, target: "/v1/tenants", bearer: platform, body: map[string]any{"id": "acme"}}), http.StatusConflict)
	for _, bad := range []map[string]any{{"id": "A"}, {"id": "Acme"}, {"id": "acme_1"}, {"id": "a"}, {"id": "acme", "offline_after": 0}, {"id": "x1", "offline_after": 86401}} {
		assertProblem(t, th.do(request{method: http.MethodPost, target: "/v1/tenants", bearer: platform, body: bad}), http.StatusUnprocessableEntity)
	}
	list := th.do(request{target: "/v1/tenants", bearer: platform}).json(t)
	if n := len(list["tenants"].([]any)); n != 1 {
		t.Fatalf("%d tenants listed", n)
	}

	// An owner makes a heartbeat token; the secret is shown once.
	owner := th.jwt("acme", auth.RoleOwner)
	res = th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/tokens", bearer: owner, body: map[string]any{"label": "fleet"}})
	if res.code != http.StatusCreated {
		t.Fatalf("create token: %d %s", res.code, res.body)
	}
	created := res.json(t)
	secret, id := created["token"].(string), created["id"].(string)
	secrets = append(secrets, secret)
	if !auth.WellFormed(auth.PrefixHeartbeatToken, secret) || !strings.HasPrefix(id, "tok_") {
		t.Fatalf("token %q id %q", secret, id)
	}
	th.heartbeat(secret, "edge-1", "203.0.113.1:1", http.StatusOK)
	listed := th.do(request{target: "/v1/tenants/acme/tokens", bearer: owner})
	if strings.Contains(string(listed.body), secret) || strings.Contains(string(listed.body), "phb_") {
		t.Fatal("token list shows a secret")
	}
	if !strings.Contains(string(listed.body), `"last_used_at"`) {
		t.Fatalf("token list lacks last_used_at after use: %s", listed.body)
	}

	// Revocation takes effect on the next request.
	if res := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/tokens/" + id, bearer: owner}); res.code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.code, res.body)
	}
	assertProblem(t, th.do(request{target: "/proxy_server?name=edge-1", bearer: secret}), http.StatusUnauthorized)
	assertProblem(t, th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/tokens/tok_nope", bearer: owner}), http.StatusNotFound)

	// Settings change through PATCH; absent fields stay.
	res = th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme", bearer: owner, body: map[string]any{"max_proxies": 5}})
	if b := res.json(t); res.code != 200 || b["max_proxies"] != 5.0 || b["offline_after"] != 120.0 || b["name"] != "Acme" {
		t.Fatalf("patch: %d %v", res.code, b)
	}

	// Admin credentials: an admin cannot grant owner; a viewer credential
	// exchanges for a read-only JWT that dies with the credential.
	admin := th.jwt("acme", auth.RoleAdmin)
	assertProblem(t, th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/credentials", bearer: admin, body: map[string]any{"role": "owner", "label": "x"}}), http.StatusForbidden)
	res = th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/credentials", bearer: admin, body: map[string]any{"role": "viewer", "label": "siem"}})
	if res.code != http.StatusCreated {
		t.Fatalf("create credential: %d %s", res.code, res.body)
	}
	cred := res.json(t)
	clientID, clientSecret := cred["client_id"].(string), cred["client_secret"].(string)
	secrets = append(secrets, clientSecret)

	res = th.exchange(clientID, clientSecret)
	if res.code != http.StatusOK || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("exchange: %d %s", res.code, res.body)
	}
	at := res.json(t)
	access := at["access_token"].(string)
	secrets = append(secrets, access)
	if at["token_type"] != "Bearer" || at["expires_in"] != 900.0 {
		t.Fatalf("token answer %v", at)
	}
	if res := th.do(request{target: "/v1/tenants/acme/proxies", bearer: access}); res.code != http.StatusOK {
		t.Fatalf("viewer read: %d", res.code)
	}
	assertProblem(t, th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/tokens", bearer: access, body: map[string]any{"label": "x"}}), http.StatusForbidden)
	if res := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/credentials/" + clientID, bearer: admin}); res.code != http.StatusNoContent {
		t.Fatalf("revoke credential: %d", res.code)
	}
	assertProblem(t, th.do(request{target: "/v1/tenants/acme/proxies", bearer: access}), http.StatusUnauthorized)
	res = th.exchange(clientID, clientSecret)
	if p := assertProblem(t, res, http.StatusUnauthorized); p["error"] != "invalid_client" {
		t.Fatalf("exchange with a revoked credential: %v", p)
	}

	logs := th.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Fatalf("log contains a secret")
		}
	}
	if strings.Contains(logs, "Authorization") || strings.Contains(logs, "client_secret") {
		t.Fatal("log mentions credentials")
	}
}

func TestTokenExchange_FormJSONAndBasic(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	c, secret, err := th.hub.CreateCredential(t.Context(), "acme", auth.RoleAdmin, "ci")
	if err != nil {
		t.Fatal(err)
	}
	basic := "Basic " + basicValue(c.ID, secret)
	cases := []struct {
		name        string
		contentType string
		body        string
		header      string
		status      int
		code        string
	}{
		{"form", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=" + c.ID + "&client_secret=" + secret, "", 200, ""},
		{"json", "application/json", fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, c.ID, secret), "", 200, ""},
		{"basic", "application/x-www-form-urlencoded", "grant_type=client_credentials", basic, 200, ""},
		{"wrong secret", "application/json", fmt.Sprintf(`{"grant_type":"client_credentials","client_id":%q,"client_secret":%q}`, c.ID, typo(secret)), "", 401, "invalid_client"},
		{"unknown client", "application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=phc_nope&client_secret=" + secret, "", 401, "invalid_client"},
		{"wrong grant", "application/x-www-form-urlencoded", "grant_type=password&client_id=" + c.ID, "", 400, "unsupported_grant_type"},
		{"bad json", "application/json", `{"grant_type":`, "", 400, "invalid_request"},
		{"other content type", "text/plain", "hello", "", 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Content-Type": {tc.contentType}}
			if tc.header != "" {
				h.Set("Authorization", tc.header)
			}
			res := th.do(request{method: http.MethodPost, target: "/v1/auth/token", body: tc.body, header: h})
			if tc.status == 200 {
				if res.code != 200 {
					t.Fatalf("%d %s", res.code, res.body)
				}
				jwt := res.json(t)["access_token"].(string)
				if r := th.do(request{target: "/v1/tenants/acme", bearer: jwt}); r.code != 200 {
					t.Fatalf("issued JWT refused: %d", r.code)
				}
				return
			}
			if p := assertProblem(t, res, tc.status); p["error"] != tc.code {
				t.Fatalf("error = %v, want %s", p["error"], tc.code)
			}
		})
	}
}

func TestProxiesAPI_PagesFiltersAndDecommission(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	for i := range 5 {
		th.heartbeat(tok, fmt.Sprintf("edge-%d", i), "203.0.113.1:1", http.StatusOK)
	}
	th.heartbeat(tok, "db-1", "203.0.113.2:1", http.StatusOK)
	th.clock.Advance(81 * time.Second)
	th.heartbeat(tok, "edge-3", "203.0.113.9:1", http.StatusOK)
	viewer := th.jwt("acme", auth.RoleViewer)

	var names []string
	cursor := ""
	for page := 0; page < 10; page++ {
		res := th.do(request{target: "/v1/tenants/acme/proxies?prefix=edge-&limit=2&cursor=" + cursor, bearer: viewer})
		b := res.json(t)
		for _, p := range b["proxies"].([]any) {
			names = append(names, p.(map[string]any)["name"].(string))
		}
		c, _ := b["next_cursor"].(string)
		if c == "" {
			break
		}
		cursor = c
	}
	if fmt.Sprint(names) != "[edge-0 edge-1 edge-2 edge-3 edge-4]" {
		t.Fatalf("paged names %v", names)
	}
	online := th.do(request{target: "/v1/tenants/acme/proxies?status=online", bearer: viewer}).json(t)["proxies"].([]any)
	if len(online) != 1 || online[0].(map[string]any)["name"] != "edge-3" || online[0].(map[string]any)["peer_ip"] != "203.0.113.9" {
		t.Fatalf("online filter: %v", online)
	}
	offline := th.do(request{target: "/v1/tenants/acme/proxies?status=offline", bearer: viewer}).json(t)["proxies"].([]any)
	if len(offline) != 5 {
		t.Fatalf("offline filter: %d", len(offline))
	}
	for _, bad := range []string{"status=asleep", "limit=0", "limit=1001", "cursor=%21%21"} {
		assertProblem(t, th.do(request{target: "/v1/tenants/acme/proxies?" + bad, bearer: viewer}), http.StatusUnprocessableEntity)
	}
	one := th.do(request{target: "/v1/tenants/acme/proxies/edge-3", bearer: viewer}).json(t)
	if one["ip_changes"] != 1.0 || one["status"] != "online" {
		t.Fatalf("get proxy: %v", one)
	}
	assertProblem(t, th.do(request{target: "/v1/tenants/acme/proxies/nope", bearer: viewer}), http.StatusNotFound)
	assertProblem(t, th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/proxies/edge-3", bearer: viewer}), http.StatusForbidden)
	if res := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/proxies/edge-3", bearer: th.jwt("acme", auth.RoleAdmin)}); res.code != http.StatusNoContent {
		t.Fatalf("decommission: %d %s", res.code, res.body)
	}
	assertProblem(t, th.do(request{target: "/v1/tenants/acme/proxies/edge-3", bearer: viewer}), http.StatusNotFound)
}

// Finding: an admin could do everything an owner can: revoke the owner's
// credentials, and set admin_cidrs so that the owners are locked out. The
// split is decided in Rego: an owner's credentials are out of an admin's
// reach, admin_cidrs are the owner's alone, and a list that excludes the
// caller's own address needs force=true.
func TestOwnerAdminSplit_AdminsCannotLockOutOwners(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	owner, admin := th.jwt("acme", auth.RoleOwner), th.jwt("acme", auth.RoleAdmin)
	const home = "203.0.113.10:40000" // the harness's default peer
	newCred := func(role string) string {
		res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/credentials", bearer: owner, body: map[string]any{"role": role, "label": role}})
		if res.code != http.StatusCreated {
			t.Fatalf("create %s credential: %d %s", role, res.code, res.body)
		}
		return res.json(t)["client_id"].(string)
	}
	ownerCred, adminCred := newCred("owner"), newCred("admin")

	// Credentials: an admin revokes an admin's, never an owner's.
	assertProblem(t, th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/credentials/" + ownerCred, bearer: admin}), http.StatusForbidden)
	if res := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/credentials/" + adminCred, bearer: admin}); res.code != http.StatusNoContent {
		t.Fatalf("admin revokes an admin credential: %d %s", res.code, res.body)
	}
	if res := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/credentials/" + ownerCred, bearer: owner}); res.code != http.StatusNoContent {
		t.Fatalf("owner revokes an owner credential: %d %s", res.code, res.body)
	}

	// admin_cidrs: the owner's alone; the heartbeat list stays an admin's.
	put := func(bearer, query string, lists map[string]any) response {
		return th.do(request{method: http.MethodPut, target: "/v1/tenants/acme/allowlist" + query, bearer: bearer, body: lists})
	}
	assertProblem(t, put(admin, "", map[string]any{"cidrs": []string{}, "admin_cidrs": []string{"203.0.113.0/24"}}), http.StatusForbidden)
	if res := put(admin, "", map[string]any{"cidrs": []string{"198.51.100.0/24"}}); res.code != http.StatusOK {
		t.Fatalf("admin sets the heartbeat allowlist: %d %s", res.code, res.body)
	}
	// A list that excludes the caller: refused, unless forced.
	res := put(owner, "", map[string]any{"cidrs": []string{}, "admin_cidrs": []string{"192.0.2.0/24"}})
	assertProblem(t, res, http.StatusForbidden)
	if !strings.Contains(string(res.body), "lock out") {
		t.Errorf("the refusal does not say why: %s", res.body)
	}
	if got := th.do(request{target: "/v1/tenants/acme/allowlist", bearer: owner}).json(t); got["admin_cidrs"] != nil {
		t.Fatalf("a refused change was stored: %v", got)
	}
	if res := put(owner, "", map[string]any{"cidrs": []string{}, "admin_cidrs": []string{"203.0.113.0/24"}}); res.code != http.StatusOK {
		t.Fatalf("owner sets a list that includes their address: %d %s", res.code, res.body)
	}
	// Re-sending the same admin list is not a change: an admin may.
	if res := put(admin, "", map[string]any{"cidrs": []string{}, "admin_cidrs": []string{"203.0.113.0/24"}}); res.code != http.StatusOK {
		t.Fatalf("admin re-sends the same admin list: %d %s", res.code, res.body)
	}
	if res := put(owner, "?force=true", map[string]any{"cidrs": []string{}, "admin_cidrs": []string{"192.0.2.0/24"}}); res.code != http.StatusOK {
		t.Fatalf("owner forces a list that excludes their address: %d %s", res.code, res.body)
	}
	// Forced: the owner is now outside the list, as they chose.
	assertProblem(t, th.do(request{target: "/v1/tenants/acme", bearer: owner, peer: home}), http.StatusForbidden)
}
