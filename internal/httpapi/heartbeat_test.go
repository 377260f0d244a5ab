package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/proxyhub/proxyhub/internal/httpapi"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
	"github.com/proxyhub/proxyhub/internal/store/storetest"
)

var seedTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestHeartbeat_FirstHeartbeatCreatesProxy(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	body := th.heartbeat(tok, "edge-7", "203.0.113.7:51000", http.StatusOK)

	want := map[string]any{"success": true, "name": "edge-7", "remote_ip": "203.0.113.7", "ip_changed": false}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	if _, ok := body["previous_ip"]; ok {
		t.Errorf("previous_ip present without a change: %v", body)
	}
	ts, _ := body["timestamp"].(string)
	if !seedTimestamp.MatchString(ts) || ts != "2026-11-28T09:00:00.000Z" {
		t.Errorf("timestamp %q, want the clock's time in RFC 3339 UTC with milliseconds", ts)
	}
	ps := th.proxies("acme")
	if len(ps) != 1 || !ps[0].CreatedAt.Equal(start) || !ps[0].LastSeen.Equal(start) {
		t.Fatalf("stored %+v, want one proxy created and last seen at %v", ps, start)
	}
}

func TestHeartbeat_IPChangeSetsPreviousIP(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	th.heartbeat(tok, "edge-7", "203.0.113.7:51000", http.StatusOK)
	th.clock.Advance(time.Minute)

	body := th.heartbeat(tok, "edge-7", "203.0.113.8:51000", http.StatusOK)
	if body["ip_changed"] != true || body["previous_ip"] != "203.0.113.7" || body["remote_ip"] != "203.0.113.8" {
		t.Fatalf("after a change: %v", body)
	}

	th.clock.Advance(time.Minute)
	body = th.heartbeat(tok, "edge-7", "203.0.113.8:51001", http.StatusOK)
	if body["ip_changed"] != false || body["previous_ip"] != nil {
		t.Fatalf("same IP again (other port) must not be a change: %v", body)
	}

	ps := th.proxies("acme")
	if ps[0].IPChanges != 1 || !ps[0].CreatedAt.Equal(start) || !ps[0].LastSeen.Equal(start.Add(2*time.Minute)) {
		t.Fatalf("stored %+v", ps[0])
	}
	changes, _ := storetest.CollectIPChanges(context.Background(), th.store, "acme", hub.AuditQuery{Proxy: "edge-7"})
	if len(changes) != 1 || changes[0].OldIP.String() != "203.0.113.7" || changes[0].NewIP.String() != "203.0.113.8" {
		t.Fatalf("history %+v, want one change .7 → .8", changes)
	}
	if !strings.Contains(th.logs.String(), `"msg":"ip_change"`) {
		t.Errorf("IP change not logged:\n%s", th.logs)
	}
}

func TestStatus_OfflineBoundaryAt80Seconds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		after time.Duration
		want  string
	}{
		{0, "online"},
		{79 * time.Second, "online"},
		{80 * time.Second, "online"},
		{80*time.Second + time.Millisecond, "offline"},
		{time.Hour, "offline"},
	}
	for _, tc := range cases {
		t.Run(tc.after.String(), func(t *testing.T) {
			th, tok := newAcme(t)
			th.heartbeat(tok, "edge-7", "203.0.113.7:1", http.StatusOK)
			th.clock.Advance(tc.after)
			st := th.do(request{target: "/status", bearer: tok}).json(t)
			ps := st["proxies"].([]any)
			if got := ps[0].(map[string]any)["status"]; got != tc.want {
				t.Fatalf("status after %v = %v, want %s", tc.after, got, tc.want)
			}
			online, offline := 1.0, 0.0
			if tc.want == "offline" {
				online, offline = 0, 1
			}
			if st["total"] != 1.0 || st["online"] != online || st["offline"] != offline {
				t.Fatalf("counts %v/%v/%v", st["total"], st["online"], st["offline"])
			}
		})
	}
}

func TestStatus_ListsProxiesSortedWithSeedFields(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	for _, n := range []string{"web-2", "db-1", "web-1"} {
		th.heartbeat(tok, n, "198.51.100.1:1", http.StatusOK)
	}
	th.clock.Advance(90 * time.Second)
	th.heartbeat(tok, "web-1", "198.51.100.2:1", http.StatusOK)

	st := th.do(request{target: "/status", bearer: tok}).json(t)
	var names []string
	for _, p := range st["proxies"].([]any) {
		m := p.(map[string]any)
		names = append(names, m["name"].(string))
		for _, k := range []string{"name", "remote_ip", "status", "last_seen", "created_at", "ip_changes"} {
			if _, ok := m[k]; !ok {
				t.Errorf("proxy %v lacks %s", m["name"], k)
			}
		}
		if m["name"] == "web-1" && (m["ip_changes"] != 1.0 || m["status"] != "online" || m["remote_ip"] != "198.51.100.2") {
			t.Errorf("web-1 = %v", m)
		}
		if m["name"] == "db-1" && m["status"] != "offline" {
			t.Errorf("db-1 = %v, want offline", m)
		}
	}
	if fmt.Sprint(names) != "[db-1 web-1 web-2]" {
		t.Fatalf("order %v", names)
	}
	if st["total"] != 3.0 || st["online"] != 1.0 || st["offline"] != 2.0 || !seedTimestamp.MatchString(st["timestamp"].(string)) {
		t.Fatalf("status header %v", st)
	}
}

func TestHeartbeat_InvalidNamesAre422AndStoreNothing(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"missing":           "/proxy_server",
		"empty":             "/proxy_server?name=",
		"leading dash":      "/proxy_server?name=-edge",
		"leading dot":       "/proxy_server?name=.edge",
		"space":             "/proxy_server?name=edge%207",
		"slash":             "/proxy_server?name=edge/7",
		"non-ascii":         "/proxy_server?name=%C3%BCber",
		"newline injection": "/proxy_server?name=edge%0A%F0%9F%94%84",
		"101 characters":    "/proxy_server?name=" + strings.Repeat("a", 101),
		"quote":             "/proxy_server?name=a%22b",
	}
	for name, target := range cases {
		t.Run(name, func(t *testing.T) {
			th, tok := newAcme(t)
			p := assertProblem(t, th.do(request{target: target, bearer: tok}), http.StatusUnprocessableEntity)
			if !strings.Contains(fmt.Sprint(p["errors"]), "query.name") {
				t.Errorf("problem does not name the field: %v", p)
			}
			if n := len(th.proxies("acme")); n != 0 {
				t.Fatalf("%d proxies stored after a rejected heartbeat", n)
			}
		})
	}
}

func TestHeartbeat_ValidNamesAreAccepted(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a", "7", "edge-7", "edge_7.example.com", "EDGE-7", strings.Repeat("z", 100)} {
		th, tok := newAcme(t)
		body := th.heartbeat(tok, name, "203.0.113.7:1", http.StatusOK)
		if body["name"] != name {
			t.Errorf("name %q echoed as %v", name, body["name"])
		}
	}
}

func TestHeartbeat_ClientIPFromTrustedProxyOnly(t *testing.T) {
	t.Parallel()
	xff := func(v ...string) http.Header { return http.Header{"X-Forwarded-For": v} }
	cases := []struct {
		name    string
		trusted string
		peer    string
		header  http.Header
		status  int
		wantIP  string
	}{
		{"no trusted proxies ignore the header", "", "203.0.113.7:1", xff("198.51.100.99"), 200, "203.0.113.7"},
		{"untrusted peer cannot spoof", "10.0.0.0/8", "203.0.113.7:1", xff("198.51.100.99"), 200, "203.0.113.7"},
		{"trusted peer's header decides", "10.0.0.0/8", "10.0.0.5:1", xff("198.51.100.99"), 200, "198.51.100.99"},
		{"spoofed leftmost entry is skipped", "10.0.0.0/8", "10.0.0.5:1", xff("1.1.1.1, 198.51.100.99"), 200, "198.51.100.99"},
		{"garbage from trusted peer fails closed", "10.0.0.0/8", "10.0.0.5:1", xff("not-an-ip"), 400, ""},
		{"trusted peer without header fails closed", "10.0.0.0/8", "10.0.0.5:1", nil, 400, ""},
		{"IPv6 peer", "", "[2001:db8::7]:443", nil, 200, "2001:db8::7"},
		{"IPv4-mapped peer is folded", "", "[::ffff:203.0.113.9]:443", nil, 200, "203.0.113.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th, tok := newAcme(t, withTrusted(tc.trusted))
			res := th.do(request{target: "/proxy_server?name=edge-1", peer: tc.peer, header: tc.header, bearer: tok})
			if tc.status != 200 {
				assertProblem(t, res, tc.status)
				if n := len(th.proxies("acme")); n != 0 {
					t.Fatalf("stored %d proxies after a failed IP resolution", n)
				}
				return
			}
			if res.code != 200 || res.json(t)["remote_ip"] != tc.wantIP {
				t.Fatalf("status %d body %s, want remote_ip %s", res.code, res.body, tc.wantIP)
			}
			p := th.proxies("acme")[0]
			if p.IP.String() != tc.wantIP {
				t.Fatalf("stored IP %s, want %s", p.IP, tc.wantIP)
			}
			if wantPeer := strings.Trim(tc.peer[:strings.LastIndex(tc.peer, ":")], "[]"); p.PeerIP.String() != strings.TrimPrefix(wantPeer, "::ffff:") {
				t.Fatalf("stored peer %s, want the raw socket peer %s", p.PeerIP, wantPeer)
			}
		})
	}
}

// failingStore is a store whose database has gone away.
type failingStore struct{ hub.Store }

func (failingStore) RecordHeartbeat(context.Context, hub.Heartbeat) (hub.HeartbeatResult, error) {
	return hub.HeartbeatResult{}, fmt.Errorf("dial: %w", hub.ErrUnavailable)
}
func (failingStore) ListProxies(context.Context, string, hub.ProxyQuery) ([]hub.Proxy, error) {
	return nil, errors.New("connection reset with password=hunter2")
}
func (failingStore) Ping(context.Context) error { return hub.ErrUnavailable }

func TestStoreDown_503WithRetryAfterAndReadyzFails(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t, withStore(failingStore{memory.New()}))
	res := th.do(request{target: "/proxy_server?name=edge-1", bearer: tok})
	assertProblem(t, res, http.StatusServiceUnavailable)
	if res.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if res := th.do(request{target: "/readyz"}); res.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz = %d with the store down, want 503", res.code)
	}
	if res := th.do(request{target: "/healthz"}); res.code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200 (the process is up)", res.code)
	}
	res = th.do(request{target: "/status", bearer: tok})
	p := assertProblem(t, res, http.StatusInternalServerError)
	if strings.Contains(string(res.body), "hunter2") || p["detail"] != "internal error" {
		t.Errorf("internal error detail leaked to the client: %s", res.body)
	}
}

// panickingStore panics on every write.
type panickingStore struct{ hub.Store }

func (panickingStore) RecordHeartbeat(context.Context, hub.Heartbeat) (hub.HeartbeatResult, error) {
	panic("boom")
}

// A panic is a 500 like any other: one access log line and one count in
// the metrics, beside the ERROR line with the stack.
func TestPanicBecomes500Problem(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t, withStore(panickingStore{memory.New()}))
	assertProblem(t, th.do(request{target: "/proxy_server?name=edge-1", bearer: tok,
		header: http.Header{"X-Request-Id": {"req-panic"}}}), http.StatusInternalServerError)
	var panics []map[string]any
	for _, l := range th.errorLines() {
		if l["msg"] == "panic" {
			panics = append(panics, l)
		}
	}
	if len(panics) != 1 || panics[0]["request_id"] != "req-panic" {
		t.Errorf("panic lines %v, want one with request_id req-panic", panics)
	}
	lines := th.requestLines("heartbeat")
	if len(lines) != 1 || lines[0]["status"] != 500.0 || lines[0]["request_id"] != "req-panic" {
		t.Errorf("access log %v, want one heartbeat line with status 500 and request_id req-panic", lines)
	}
	if got := th.requestCount("heartbeat", http.StatusInternalServerError); got != "1" {
		t.Errorf("metric for heartbeat 500 = %s, want 1", got)
	}
	if res := th.do(request{target: "/healthz"}); res.code != 200 {
		t.Error("hub did not survive a panic")
	}
}

// TestHeartbeat_DocumentStatesTheHubsNameRule: the OpenAPI document's
// heartbeat name parameter states the hub's name rule (its pattern and
// bounds), and the pattern accepts exactly what hub.ValidName accepts.
func TestHeartbeat_DocumentStatesTheHubsNameRule(t *testing.T) {
	t.Parallel()
	var name *huma.Param
	for _, p := range httpapi.OpenAPI().Paths["/proxy_server"].Get.Parameters {
		if p.Name == "name" {
			name = p
		}
	}
	if name == nil || name.Schema == nil {
		t.Fatal("the heartbeat operation documents no name parameter")
	}
	if name.Schema.Pattern != hub.NamePattern || name.Schema.MaxLength == nil || *name.Schema.MaxLength != hub.MaxNameLength ||
		name.Schema.MinLength == nil || *name.Schema.MinLength != 1 {
		t.Fatalf("document says pattern %q, length %v..%v; the hub's rule is %q, 1..%d",
			name.Schema.Pattern, name.Schema.MinLength, name.Schema.MaxLength, hub.NamePattern, hub.MaxNameLength)
	}
	re := regexp.MustCompile(hub.NamePattern)
	for _, n := range []string{"edge-7", "a", "9", "host.example.com", "under_score", "-a", ".a", "_a", "a b", "a/b", "ä", "a\n", "", "A.-_9"} {
		if doc, hubSays := re.MatchString(n) && len(n) <= hub.MaxNameLength, hub.ValidName(n); doc != hubSays {
			t.Errorf("%q: the document's pattern says %v, hub.ValidName says %v", n, doc, hubSays)
		}
	}
}
