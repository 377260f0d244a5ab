package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/auth"
)

// metricValue returns the value of the series line that starts with
// prefix (name and labels), or "" when there is none.
func metricValue(body, prefix string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestMetrics_FleetGaugesPerTenant(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	th.tenant("globex")
	owner := th.jwt("acme", auth.RoleOwner)
	for _, n := range []string{"edge-1", "edge-2", "edge-3"} {
		th.heartbeat(tok, n, "203.0.113.7:1", http.StatusOK)
	}
	if res := th.do(request{method: http.MethodPatch, target: "/v1/tenants/acme/proxies/edge-3", bearer: owner, body: map[string]any{"paused": true}}); res.code != http.StatusOK {
		t.Fatalf("pause: %d %s", res.code, res.body)
	}
	hook := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks", bearer: owner,
		body: map[string]any{"kind": "slack", "url": "https://hooks.example.com/services/T0/B0/x"}})
	if hook.code != http.StatusCreated {
		t.Fatalf("webhook: %d %s", hook.code, hook.body)
	}
	if res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/maintenance-windows", bearer: owner,
		body: map[string]any{"pattern": "edge-[12]", "start": th.clock.Now().Format(time.RFC3339), "end": th.clock.Now().Add(time.Hour).Format(time.RFC3339)}}); res.code != http.StatusCreated {
		t.Fatalf("window: %d %s", res.code, res.body)
	}
	th.clock.Advance(50 * time.Second)
	th.heartbeat(tok, "edge-1", "203.0.113.8:1", http.StatusOK) // an IP change: an event for the webhook
	th.clock.Advance(40 * time.Second)                          // edge-2's deadline (80 s) has passed; edge-1's has not

	body := string(th.do(request{target: "/metrics"}).body)
	for series, want := range map[string]string{
		`proxyhub_tenant_proxies{state="online",tenant="acme"}`:                     "1",
		`proxyhub_tenant_proxies{state="offline",tenant="acme"}`:                    "1",
		`proxyhub_tenant_proxies{state="paused",tenant="acme"}`:                     "1",
		`proxyhub_tenant_proxies{state="online",tenant="globex"}`:                   "0",
		`proxyhub_notifications_pending{kind="slack",tenant="acme"}`:                "1",
		`proxyhub_notifications_failing{kind="slack",tenant="acme"}`:                "0",
		`proxyhub_notifications_oldest_pending_seconds{kind="slack",tenant="acme"}`: "40",
		`proxyhub_fleet_metrics_up`:                                                 "1",
		`proxyhub_tenant_proxies_in_maintenance{tenant="acme"}`:                     "2",
		`proxyhub_tenant_proxies_in_maintenance{tenant="globex"}`:                   "0",
	} {
		if got := metricValue(body, series); got != want {
			t.Errorf("%s = %q, want %s", series, got, want)
		}
	}
	if strings.Contains(body, "edge-") || strings.Contains(body, "203.0.113") {
		t.Error("the metrics name proxies or addresses: cardinality must stay per tenant")
	}
}

func TestMetrics_BearerTokenProtectsMetrics(t *testing.T) {
	t.Parallel()
	const token = "metrics-token-0123456789"
	th := newTestHub(t, func(o *app.Options) { o.Config.MetricsToken = token })
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong-token-0123456789", http.StatusUnauthorized},
		{"Basic " + token, http.StatusUnauthorized},
		{"Bearer " + token, http.StatusOK},
	} {
		res := th.do(request{target: "/metrics", header: http.Header{"Authorization": {tc.header}}})
		if res.code != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.header, res.code, tc.want)
		}
		if tc.want == http.StatusUnauthorized && (res.header.Get("WWW-Authenticate") == "" || strings.Contains(string(res.body), "proxyhub_")) {
			t.Errorf("Authorization %q: refused without a challenge, or with metrics in the body", tc.header)
		}
	}
	if !strings.Contains(string(th.do(request{target: "/metrics", bearer: token}).body), "proxyhub_build_info") {
		t.Error("the token's answer has no metrics")
	}
	// With a listener of its own, the main handler does not serve them.
	other := newTestHub(t, func(o *app.Options) { o.Config.MetricsAddr = "127.0.0.1:0" })
	if res := other.do(request{target: "/metrics"}); res.code != http.StatusNotFound {
		t.Errorf("/metrics on the main address with PROXYHUB_METRICS_ADDR set: %d, want 404", res.code)
	}
}
