package httpapi_test

import (
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func TestUnknownPathsAreProblems(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	assertProblem(t, th.do(request{target: "/nope"}), http.StatusNotFound)
	assertProblem(t, th.do(request{target: "/"}), http.StatusNotFound)
	res := th.do(request{method: http.MethodPost, target: "/proxy_server?name=a"})
	assertProblem(t, res, http.StatusMethodNotAllowed)
	if len(th.proxies("acme")) != 0 {
		t.Fatal("POST stored a proxy")
	}
}

func TestPublicEndpointsAnswer200(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	for _, path := range []string{"/healthz", "/readyz", "/docs", "/openapi.json", "/openapi.yaml", "/metrics"} {
		if res := th.do(request{target: path}); res.code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, res.code)
		}
	}
}

func TestRequestID_EchoedOrGenerated(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	cases := []struct {
		name, sent string
		echoed     bool
	}{
		{"well-formed id is echoed", "abc-123_X.y", true},
		{"none sent", "", false},
		{"header injection replaced", "a\"b", false},
		{"too long replaced", strings.Repeat("a", 65), false},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.sent != "" {
			h.Set("X-Request-Id", tc.sent)
		}
		got := th.do(request{target: "/healthz", header: h}).header.Get("X-Request-Id")
		if tc.echoed && got != tc.sent || !tc.echoed && (got == "" || got == tc.sent) {
			t.Errorf("%s: X-Request-Id %q", tc.name, got)
		}
	}
}

func TestAccessLog_HasRequestFactsButNoSecrets(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	secret := tok
	th.do(request{target: "/proxy_server?name=edge-1", peer: "198.51.100.4:9", bearer: tok, header: http.Header{
		"X-Request-Id": {"req-42"},
		"Cookie":       {"session=" + secret},
	}})
	th.do(request{target: "/status", bearer: typo(secret)}) // a typo'd token: 401, logged
	logs := th.logs.String()
	for _, want := range []string{`"method":"GET"`, `"path":"/proxy_server"`, `"status":200`, `"client_ip":"198.51.100.4"`, `"request_id":"req-42"`, `"duration_ms"`, `"operation":"heartbeat"`, `"principal":"heartbeat:tok_`, `"status":401`} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, secret) || strings.Contains(logs, "Authorization") {
		t.Errorf("log contains a credential:\n%s", logs)
	}
}

func TestMetrics_CountHeartbeatsWithoutPerProxyLabels(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	th.heartbeat(tok, "edge-secret-name", "203.0.113.1:1", http.StatusOK)
	th.heartbeat(tok, "edge-secret-name", "203.0.113.2:1", http.StatusOK)
	body := string(th.do(request{target: "/metrics"}).body)
	for _, want := range []string{
		"proxyhub_heartbeats_total 2",
		"proxyhub_ip_changes_total 1",
		"proxyhub_proxies_registered_total 1",
		`proxyhub_http_requests_total{code="200",operation="heartbeat"} 2`,
		`proxyhub_http_request_duration_seconds_bucket{operation="heartbeat"`,
		`goversion="` + runtime.Version() + `",version="`, // proxyhub_build_info{commit=…,goversion=…,version=…} 1
		"proxyhub_ratelimit_shared 0",                     // no Redis: limits per hub
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "edge-secret-name") || strings.Contains(body, "203.0.113") {
		t.Error("metrics carry per-proxy labels")
	}
}

// The docs page works on a hub that cannot reach the internet: every
// script, stylesheet and icon it names is served by the hub itself.
func TestDocs_LoadOnlyAssetsTheHubServes(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	page := th.do(request{target: "/docs"})
	if page.code != http.StatusOK || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs = %d %s", page.code, page.header.Get("Content-Type"))
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page.body), -1)
	if len(refs) < 3 {
		t.Fatalf("the page names %d assets; want its scripts and styles:\n%s", len(refs), page.body)
	}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/docs/") {
			t.Errorf("the page loads %q from outside the hub", ref)
			continue
		}
		if res := th.do(request{target: ref}); res.code != http.StatusOK || len(res.body) == 0 {
			t.Errorf("GET %s = %d (%d bytes)", ref, res.code, len(res.body))
		}
	}
	if !strings.Contains(string(page.body), `"/openapi.json"`) {
		t.Error("the page does not load the hub's own document")
	}
}
