package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/httpapi"
	"github.com/proxyhub/proxyhub/internal/hub"
)

// The heartbeat route takes only a query of exactly one plain, valid name;
// everything else goes to Huma, which validates it as documented.
func TestHeartbeatRoute_TakesOnlyPlainQueries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		name  string
		plain bool
	}{
		{"name=edge-7", "edge-7", true},
		{"name=a", "a", true},
		{"name=" + strings.Repeat("x", hub.MaxNameLength), strings.Repeat("x", hub.MaxNameLength), true},
		{"name=" + strings.Repeat("x", hub.MaxNameLength+1), "", false},
		{"name=", "", false},
		{"", "", false},
		{"name=-edge", "", false},
		{"name=edge%2D7", "", false},
		{"name=edge+7", "", false},
		{"name=edge-7&name=edge-8", "", false},
		{"name=edge-7&x=1", "", false},
		{"x=1&name=edge-7", "", false},
		{"Name=edge-7", "", false},
		{"name=edge/7", "", false},
	} {
		name, plain := httpapi.PlainHeartbeatName(tc.query)
		if name != tc.name || plain != tc.plain {
			t.Errorf("%q: got %q %v, want %q %v", tc.query, name, plain, tc.name, tc.plain)
		}
	}
}

// The answer the route writes is, byte for byte, what Huma writes for the
// documented HeartbeatResult (encoding/json, HTML unescaped, a newline).
func TestHeartbeatRoute_AnswerBytesMatchEncodingJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 3, 4, 5, 123456000, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		name    string
		ip, old string
		changed bool
		at      time.Time
	}{
		{"edge-7", "203.0.113.7", "", false, at},
		{"edge-7", "203.0.113.7", "203.0.113.6", true, at},
		{"v6.host_1", "2001:db8::1", "::ffff:192.0.2.1", true, at.Truncate(time.Second)},
		{"a<b>&\"c\\\n\u2028é", "192.0.2.1", "", false, at},
		{"zero-time", "192.0.2.1", "", false, time.Time{}},
	} {
		res := hub.HeartbeatResult{Proxy: hub.Proxy{Name: tc.name, IP: netip.MustParseAddr(tc.ip), LastSeen: tc.at}, Changed: tc.changed}
		want := api.HeartbeatResult{Success: true, Name: tc.name, RemoteIP: tc.ip, IPChanged: tc.changed, Timestamp: api.Time(tc.at)}
		if tc.changed {
			res.PreviousIP = netip.MustParseAddr(tc.old)
			want.PreviousIP = tc.old
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		if got := httpapi.AppendHeartbeatAnswer(nil, res); string(got) != buf.String() {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, buf.String())
		}
	}
}

// A heartbeat answers the same through the heartbeat route (a plain query)
// as through Huma (the same name percent-encoded, which the route leaves to
// Huma): status, header fields and body, for every outcome a cron line
// meets.
func TestHeartbeatRoute_AnswersAsTheDocumentedOperation(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t, withLimits(3, 1000, 1000))
	if res := th.do(request{method: http.MethodPut, target: "/v1/tenants/acme/allowlist", bearer: th.jwt("acme", auth.RoleAdmin),
		body: map[string]any{"cidrs": []string{"203.0.113.0/24"}}}); res.code != http.StatusOK {
		t.Fatalf("allowlist: %d %s", res.code, res.body)
	}
	bound := th.token("acme", hub.NewToken{Label: "bound", Proxy: "only-this"})
	const home, moved, outside = "203.0.113.7:1", "203.0.113.8:1", "198.51.100.7:1"
	type beat struct {
		bearer, peer string
		accept       string
	}
	for _, tc := range []struct {
		case_  string
		beats  []beat // sent in turn; the last answer is compared
		status int
	}{
		{"first", []beat{{tok, home, ""}}, http.StatusOK},
		{"steady", []beat{{tok, home, ""}, {tok, home, ""}}, http.StatusOK},
		{"changed", []beat{{tok, home, ""}, {tok, moved, ""}}, http.StatusOK},
		{"accept-json", []beat{{tok, home, "application/json"}}, http.StatusOK},
		{"unknown-token", []beat{{"phb_" + strings.Repeat("A", 40), home, ""}}, http.StatusUnauthorized},
		{"no-token", []beat{{"", home, ""}}, http.StatusUnauthorized},
		{"outside-allowlist", []beat{{tok, outside, ""}}, http.StatusForbidden},
		{"token-bound-elsewhere", []beat{{bound, home, ""}}, http.StatusForbidden},
		{"rate-limited", []beat{{tok, home, ""}, {tok, home, ""}, {tok, home, ""}, {tok, home, ""}}, http.StatusTooManyRequests},
	} {
		t.Run(tc.case_, func(t *testing.T) {
			answers := map[string]response{}
			for _, form := range []string{"route", "huma"} {
				name := form[:1] + "-" + tc.case_
				query := "name=" + name
				if form == "huma" {
					query = "name=%" + strings.ToUpper(hexByte(name[0])) + name[1:]
				}
				var res response
				for _, b := range tc.beats {
					h := http.Header{}
					if b.accept != "" {
						h.Set("Accept", b.accept)
					}
					res = th.do(request{target: "/proxy_server?" + query, peer: b.peer, bearer: b.bearer, header: h})
				}
				if res.code != tc.status {
					t.Fatalf("%s: status %d, want %d\n%s", form, res.code, tc.status, res.body)
				}
				answers[form] = res
			}
			route, humaRes := answers["route"], answers["huma"]
			for _, field := range []string{"Content-Type", "Www-Authenticate", "Ratelimit-Policy", "Retry-After"} {
				if r, h := route.header.Get(field), humaRes.header.Get(field); (r == "") != (h == "") || field != "Retry-After" && r != h {
					t.Errorf("%s: route %q, huma %q", field, r, h)
				}
			}
			if r, h := normalise(route.header.Get("Ratelimit")), normalise(humaRes.header.Get("Ratelimit")); r != h {
				t.Errorf("RateLimit: route %q, huma %q", r, h)
			}
			if r, h := normalise(strings.ReplaceAll(string(route.body), "r-", "h-")), normalise(string(humaRes.body)); r != h {
				t.Errorf("body:\nroute %s\nhuma  %s", r, h)
			}
		})
	}
}

var volatile = regexp.MustCompile(`"timestamp":"[^"]*"|"instance":"[^"]*"|t=\d+|r=\d+`)

// normalise blanks what differs between two answers given a moment apart.
func normalise(s string) string { return volatile.ReplaceAllString(s, "…") }

func hexByte(c byte) string {
	return string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15])
}

// A successful heartbeat is counted in the metrics and its access log line
// is at debug level only (a fleet would fill the log with them); a
// refused one is logged at info.
func TestAccessLog_SuccessfulHeartbeatsAreCountedNotLogged(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	th.heartbeat(tok, "edge-1", "203.0.113.7:1", http.StatusOK)
	th.heartbeat(tok, "edge-1", "203.0.113.7:1", http.StatusOK)
	th.heartbeat("phb_"+strings.Repeat("A", 40), "edge-1", "203.0.113.7:1", http.StatusUnauthorized)
	if got := th.requestCount("heartbeat", http.StatusOK); got != "2" {
		t.Errorf("heartbeats counted with 200: %s, want 2", got)
	}
	var info []map[string]any
	for _, l := range th.requestLines("heartbeat") {
		if l["level"] != "DEBUG" {
			info = append(info, l)
		}
	}
	if len(info) != 1 || info[0]["status"] != float64(http.StatusUnauthorized) {
		t.Errorf("heartbeat access log lines above debug: %v, want only the 401", info)
	}
}

// FuzzPlainHeartbeatName: the heartbeat route takes a query only when it
// is exactly one valid name that needs no unescaping, and then the name it
// reads is that name; it never panics.
func FuzzPlainHeartbeatName(f *testing.F) {
	for _, q := range []string{"name=edge-7", "name=", "name=edge%2D7", "name=a&name=b", "x=1", "name=" + strings.Repeat("x", 101)} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		name, plain := httpapi.PlainHeartbeatName(q)
		if !plain {
			return
		}
		if q != "name="+name || !hub.ValidName(name) || strings.ContainsAny(name, "%+&=") {
			t.Fatalf("took %q as name %q", q, name)
		}
	})
}
