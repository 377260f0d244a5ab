package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/httpapi"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/notify"
	"github.com/proxyhub/proxyhub/internal/store/storetest"
)

// sampleBodies holds a valid body for every operation that takes one. The
// matrix fails when an operation with a body has no sample here.
var sampleBodies = map[string]any{
	"create-tenant":             map[string]any{"id": "initech", "name": "Initech"},
	"update-tenant":             map[string]any{"name": "Hijacked", "max_proxies": 1, "auto_register": false},
	"create-token":              map[string]any{"label": "planted"},
	"create-badge":              map[string]any{"label": "planted"},
	"create-maintenance-window": map[string]any{"cron": "0 2 * * 6", "duration": 3600},
	"create-credential":         map[string]any{"role": "viewer", "label": "planted"},
	"put-allowlist":             map[string]any{"cidrs": []string{"192.0.2.0/24"}},
	"update-proxy":              map[string]any{"paused": true, "offline_after": 5},
	"create-webhook":            map[string]any{"kind": "generic", "url": "https://example.com/planted"},
	"update-webhook":            map[string]any{"url": "https://example.com/hijacked", "enabled": false},
	"test-webhook":              nil,
	"rotate-webhook-secret":     nil,
	"end-maintenance-window":    nil,
	"issue-access-token":        nil, // public; not part of the matrix
}

// operation is one operation of the generated OpenAPI document.
type operation struct {
	id, method, path string
	secured          bool
}

func documentOperations(t *testing.T) []operation {
	t.Helper()
	var ops []operation
	for path, item := range httpapi.OpenAPI().Paths {
		for method, o := range map[string]*struct {
			id  string
			sec bool
		}{
			http.MethodGet: opOf(item.Get), http.MethodPost: opOf(item.Post), http.MethodPatch: opOf(item.Patch),
			http.MethodDelete: opOf(item.Delete), http.MethodPut: opOf(item.Put),
		} {
			if o != nil {
				ops = append(ops, operation{id: o.id, method: method, path: path, secured: o.sec})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	return ops
}

// twoTenants sets up acme (the caller's tenant) and globex (the victim),
// each with a proxy, a token and a credential.
type twoTenants struct {
	*testHub
	acmeToken, globexToken string
	globexTokenID          string
	globexCredID           string
	globexWebhookID        string
}

func newTwoTenants(t *testing.T) *twoTenants {
	th := newTestHub(t)
	tt := &twoTenants{testHub: th}
	th.tenant("acme")
	th.tenant("globex")
	tt.acmeToken = th.token("acme")
	tok, secret, err := th.hub.CreateToken(context.Background(), "globex", hub.NewToken{Label: "globex cron"})
	if err != nil {
		t.Fatal(err)
	}
	tt.globexToken, tt.globexTokenID = secret, tok.ID
	cred, _, err := th.hub.CreateCredential(context.Background(), "globex", auth.RoleAdmin, "globex ci")
	if err != nil {
		t.Fatal(err)
	}
	tt.globexCredID = cred.ID
	wh, err := th.store.(notify.Store).CreateWebhook(context.Background(), hub.Webhook{ID: "wh_globex", TenantID: "globex", Kind: "generic",
		URL: "https://globex.example/hook", Enabled: true, Secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", CreatedAt: start, UpdatedAt: start})
	if err != nil {
		t.Fatal(err)
	}
	tt.globexWebhookID = wh.ID
	th.heartbeat(tt.acmeToken, "edge-1", "203.0.113.1:1", http.StatusOK)
	th.heartbeat(tt.globexToken, "edge-1", "198.51.100.1:1", http.StatusOK)
	th.clock.Advance(time.Minute)
	th.heartbeat(tt.globexToken, "edge-1", "198.51.100.2:1", http.StatusOK)
	return tt
}

// snapshot is everything the store holds for a tenant, as JSON.
func (th *testHub) snapshot(tenant string) string {
	th.t.Helper()
	ctx := context.Background()
	var parts []any
	for _, f := range []func() (any, error){
		func() (any, error) { return th.store.GetTenant(ctx, tenant) },
		func() (any, error) { return th.store.ListTokens(ctx, tenant) },
		func() (any, error) { return th.store.ListCredentials(ctx, tenant) },
		func() (any, error) { return th.store.ListProxies(ctx, tenant, hub.ProxyQuery{}) },
		func() (any, error) { return storetest.CollectIPChanges(ctx, th.store, tenant, hub.AuditQuery{}) },
		func() (any, error) { return th.store.(notify.Store).ListWebhooks(ctx, tenant) },
	} {
		v, err := f()
		if err != nil {
			th.t.Fatal(err)
		}
		parts = append(parts, v)
	}
	b, _ := json.Marshal(parts)
	return string(b)
}

// target fills an operation's path parameters with globex's records.
func (tt *twoTenants) target(o operation) string {
	r := strings.NewReplacer("{tenant}", "globex", "{name}", "edge-1", "{id}", tt.globexTokenID)
	if strings.Contains(o.path, "/credentials/") {
		r = strings.NewReplacer("{tenant}", "globex", "{id}", tt.globexCredID)
	}
	if strings.Contains(o.path, "/webhooks/") {
		r = strings.NewReplacer("{tenant}", "globex", "{id}", tt.globexWebhookID)
	}
	return r.Replace(o.path)
}

func TestCrossTenantMatrix_EveryOperationRefusesAnotherTenant(t *testing.T) {
	t.Parallel()
	ops := documentOperations(t)
	if len(ops) < 15 {
		t.Fatalf("only %d operations in the document", len(ops))
	}
	for _, o := range ops {
		if !o.secured {
			continue
		}
		if _, ok := sampleBodies[o.id]; !ok && (o.method == http.MethodPost || o.method == http.MethodPatch || o.method == http.MethodPut) {
			t.Fatalf("operation %s takes a body but has no sample in sampleBodies: add one", o.id)
		}
		t.Run(o.id, func(t *testing.T) {
			tt := newTwoTenants(t)
			before := tt.snapshot("globex")
			callers := map[string]string{
				"acme owner":     tt.jwt("acme", auth.RoleOwner),
				"acme admin":     tt.jwt("acme", auth.RoleAdmin),
				"acme viewer":    tt.jwt("acme", auth.RoleViewer),
				"acme heartbeat": tt.acmeToken,
			}
			for who, bearer := range callers {
				res := tt.do(request{method: o.method, target: tt.target(o) + "?name=edge-1", bearer: bearer, body: sampleBodies[o.id]})
				switch {
				case strings.Contains(o.path, "{tenant}"):
					// Another tenant's resources do not exist for this caller.
					assertProblem(t, res, http.StatusNotFound)
				case o.id == "create-tenant" || o.id == "list-tenants":
					assertProblem(t, res, http.StatusForbidden)
				default:
					// heartbeat and status act on the caller's own tenant only.
					if res.code >= 500 {
						t.Fatalf("%s: %d %s", who, res.code, res.body)
					}
				}
				if strings.Contains(string(res.body), "198.51.100") || strings.Contains(string(res.body), tt.globexTokenID) {
					t.Fatalf("%s saw globex data via %s: %s", who, o.id, res.body)
				}
			}
			if after := tt.snapshot("globex"); after != before {
				t.Fatalf("globex changed through %s:\nbefore %s\nafter  %s", o.id, before, after)
			}
		})
	}
}

func TestRoleMatrix_HeartbeatTokensAndViewersCannotAdminister(t *testing.T) {
	t.Parallel()
	for _, o := range documentOperations(t) {
		if !o.secured || o.id == "heartbeat" || o.id == "get-status" {
			continue
		}
		t.Run(o.id, func(t *testing.T) {
			tt := newTwoTenants(t)
			own := strings.NewReplacer("{tenant}", "acme", "{name}", "edge-1", "{id}", "tok_x").Replace(o.path)
			res := tt.do(request{method: o.method, target: own, bearer: tt.acmeToken, body: sampleBodies[o.id]})
			assertProblem(t, res, http.StatusForbidden)

			write := o.method != http.MethodGet
			res = tt.do(request{method: o.method, target: own, bearer: tt.jwt("acme", auth.RoleViewer), body: sampleBodies[o.id]})
			readable := map[string]bool{"get-tenant": true, "list-proxies": true, "get-proxy": true}
			switch {
			case write || strings.Contains(o.path, "/tokens") || strings.Contains(o.path, "/credentials") ||
				strings.Contains(o.path, "/webhooks") || !strings.Contains(o.path, "{tenant}"):
				assertProblem(t, res, http.StatusForbidden)
			case readable[o.id] && res.code != http.StatusOK:
				t.Fatalf("viewer read %s: %d %s", o.id, res.code, res.body)
			}
		})
	}
}
