package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// badge creates a badge through the API and returns its answer.
func (th *testHub) badge(owner string, body map[string]any) map[string]any {
	th.t.Helper()
	res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/badges", bearer: owner, body: body})
	if res.code != http.StatusCreated {
		th.t.Fatalf("create badge %v: %d %s", body, res.code, res.body)
	}
	return res.json(th.t)
}

func TestBadges_ShowTheStateAndNothingElse(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	owner := th.jwt("acme", auth.RoleOwner)
	for _, name := range []string{"edge-1", "edge-2", "edge-3"} {
		th.heartbeat(tok, name, "203.0.113.7:1", http.StatusOK)
	}
	fleet := th.badge(owner, map[string]any{"label": `<script>alert(1)</script>`})
	one := th.badge(owner, map[string]any{"proxy": "edge-3"})
	plain := th.badge(owner, map[string]any{})
	if !strings.HasPrefix(fleet["key"].(string), "phk_") || fleet["svg_path"] != "/badge/"+fleet["key"].(string)+".svg" {
		t.Fatalf("created badge: %v", fleet)
	}

	shields := func(b map[string]any) map[string]any {
		t.Helper()
		res := th.do(request{target: b["json_path"].(string)})
		if res.code != http.StatusOK || res.header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %s %s", b["json_path"], res.code, res.header.Get("Content-Type"), res.body)
		}
		var m map[string]any
		if err := json.Unmarshal(res.body, &m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 5 || m["schemaVersion"] != 1.0 {
			t.Fatalf("shields endpoint JSON has other fields than schemaVersion, label, message, color, cacheSeconds: %v", m)
		}
		return m
	}
	steps := []struct {
		advance        time.Duration
		beat           []string
		fleet, proxy   string
		fleetC, proxyC string
	}{
		{0, nil, "up", "up", "brightgreen", "brightgreen"},
		{61 * time.Second, nil, "late", "late", "orange", "orange"}, // past 3/4 of the 80 s timeout
		{0, []string{"edge-1", "edge-2"}, "late", "late", "orange", "orange"},
		{20 * time.Second, nil, "1 down", "down", "red", "red"}, // edge-3: 81 s
	}
	for i, s := range steps {
		th.clock.Advance(s.advance)
		for _, name := range s.beat {
			th.heartbeat(tok, name, "203.0.113.7:1", http.StatusOK)
		}
		f, p := shields(fleet), shields(one)
		if f["message"] != s.fleet || f["color"] != s.fleetC || p["message"] != s.proxy || p["color"] != s.proxyC {
			t.Errorf("step %d: tenant badge %v, proxy badge %v; want %s/%s and %s/%s", i, f, p, s.fleet, s.fleetC, s.proxy, s.proxyC)
		}
	}
	if m := shields(plain); m["label"] != "proxies" {
		t.Errorf("a badge without a label: %v", m)
	}
	if m := shields(one); m["label"] != "status" {
		t.Errorf("a proxy's badge without a label: %v", m)
	}

	// The SVG: escaped label, no proxy names or addresses, cacheable.
	svg := th.do(request{target: fleet["svg_path"].(string)})
	body := string(svg.body)
	if svg.code != http.StatusOK || !strings.HasPrefix(svg.header.Get("Content-Type"), "image/svg+xml") {
		t.Fatalf("svg: %d %s", svg.code, svg.header.Get("Content-Type"))
	}
	if strings.Contains(body, "<script") || !strings.Contains(body, "&lt;script&gt;") || !strings.Contains(body, "1 down") {
		t.Errorf("svg does not show the escaped label and the state:\n%s", body)
	}
	for _, leak := range []string{"edge-", "203.0.113", "acme"} {
		if strings.Contains(body, leak) || strings.Contains(string(th.do(request{target: fleet["json_path"].(string)}).body), leak) {
			t.Errorf("the badge shows %q", leak)
		}
	}
	etag := svg.header.Get("ETag")
	if etag == "" || !strings.Contains(svg.header.Get("Cache-Control"), "max-age=") {
		t.Errorf("svg cache headers: ETag %q, Cache-Control %q", etag, svg.header.Get("Cache-Control"))
	}
	if res := th.do(request{target: fleet["svg_path"].(string), header: http.Header{"If-None-Match": {etag}}}); res.code != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", res.code)
	}

	// Revoked, unknown, malformed, other formats: one 404 for all.
	if res := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/badges/" + fleet["id"].(string), bearer: owner}); res.code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.code, res.body)
	}
	key := fleet["key"].(string)
	for _, path := range []string{"/badge/" + key + ".svg", "/badge/" + key + ".json", "/badge/" + one["key"].(string) + ".png",
		"/badge/phk_" + strings.Repeat("A", 36) + ".svg", "/badge/nothing.svg", "/badge/" + one["key"].(string)} {
		if res := th.do(request{target: path}); res.code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.code)
		}
	}
	if res := th.do(request{target: one["svg_path"].(string)}); res.code != http.StatusOK {
		t.Errorf("revoking one badge broke another: %d", res.code)
	}
}

func TestBadges_CreateListRevokeRules(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	th.heartbeat(tok, "edge-1", "203.0.113.7:1", http.StatusOK)
	owner, viewer := th.jwt("acme", auth.RoleOwner), th.jwt("acme", auth.RoleViewer)
	for _, tc := range []struct {
		name   string
		bearer string
		body   map[string]any
		want   int
	}{
		{"unknown proxy", owner, map[string]any{"proxy": "edge-9"}, http.StatusNotFound},
		{"label too long", owner, map[string]any{"label": strings.Repeat("x", 101)}, http.StatusUnprocessableEntity},
		{"bad proxy name", owner, map[string]any{"proxy": "../etc"}, http.StatusUnprocessableEntity},
		{"unknown field", owner, map[string]any{"tenant": "globex"}, http.StatusUnprocessableEntity},
		{"viewer", viewer, map[string]any{}, http.StatusForbidden},
		{"no credential", "", map[string]any{}, http.StatusUnauthorized},
		{"a heartbeat token", tok, map[string]any{}, http.StatusForbidden},
	} {
		res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/badges", bearer: tc.bearer, body: tc.body})
		if res.code != tc.want || !strings.HasPrefix(res.header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("%s: %d %s %s, want %d problem+json", tc.name, res.code, res.header.Get("Content-Type"), res.body, tc.want)
		}
	}
	b := th.badge(owner, map[string]any{"label": "fleet"})
	list := th.do(request{target: "/v1/tenants/acme/badges", bearer: owner})
	if list.code != http.StatusOK || strings.Contains(string(list.body), b["key"].(string)) || !strings.Contains(string(list.body), b["id"].(string)) {
		t.Fatalf("list: %d %s (the key must not be listed)", list.code, list.body)
	}
	if res := th.do(request{target: "/v1/tenants/acme/badges", bearer: viewer}); res.code != http.StatusForbidden {
		t.Errorf("viewer lists badges: %d", res.code)
	}
	if res := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/badges/bdg_nope", bearer: owner}); res.code != http.StatusNotFound {
		t.Errorf("revoke an unknown badge: %d", res.code)
	}
	for range 2 {
		if res := th.do(request{method: http.MethodDelete, target: "/v1/tenants/acme/badges/" + b["id"].(string), bearer: owner}); res.code != http.StatusNoContent {
			t.Errorf("revoke (twice is fine): %d %s", res.code, res.body)
		}
	}
}
