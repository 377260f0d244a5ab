package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/notify"
)

// receiver records what webhooks deliver, answering with status.
type receiver struct {
	mu     sync.Mutex
	status int
	got    []received
	srv    *httptest.Server
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{status: http.StatusOK}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		status := r.status
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func createWebhook(t *testing.T, th *testHub, body map[string]any) map[string]any {
	t.Helper()
	res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks", bearer: th.jwt("acme", auth.RoleAdmin), body: body})
	if res.code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", res.code, res.body)
	}
	return res.json(t)
}

func TestWebhooks_SignedGroupedDeliveryOfASweep(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	rcv := newReceiver(t)
	wh := createWebhook(t, th, map[string]any{"kind": "generic", "url": rcv.srv.URL, "events": []string{"offline"}})
	secret := wh["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	admin := th.jwt("acme", auth.RoleAdmin)
	if list := th.do(request{target: "/v1/tenants/acme/webhooks", bearer: admin}); strings.Contains(string(list.body), secret) {
		t.Fatal("webhook list shows the secret")
	}

	for i := range 1000 {
		th.heartbeat(tok, fmt.Sprintf("edge-%04d", i), "203.0.113.1:1", http.StatusOK)
	}
	th.clock.Advance(81 * time.Second)
	if evs, err := hub.NewSweeper(th.live, th.clock.Now, nil, nil).SweepOnce(context.Background()); err != nil || len(evs) != 1000 {
		t.Fatalf("sweep: %d %v", len(evs), err)
	}
	if n, err := th.dispatcher.RunOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("dispatch: %d messages, %v; want one grouped message", n, err)
	}
	got := rcv.all()
	if len(got) != 1 {
		t.Fatalf("%d messages received, want 1", len(got))
	}
	if err := notify.Verify(secret, got[0].header, got[0].body, th.clock.Now()); err != nil {
		t.Fatalf("receiver cannot verify the signature: %v", err)
	}
	var p notify.Payload
	if err := json.Unmarshal(got[0].body, &p); err != nil || len(p.Events) != 1000 || p.Summary["offline"] != 1000 {
		t.Fatalf("payload: %v, %d events, summary %v", err, len(p.Events), p.Summary)
	}
	ds := th.do(request{target: "/v1/tenants/acme/webhooks/" + wh["id"].(string) + "/deliveries", bearer: admin}).json(t)["deliveries"].([]any)
	if len(ds) != 1 || ds[0].(map[string]any)["status_code"] != 200.0 || ds[0].(map[string]any)["events"] != 1000.0 {
		t.Fatalf("delivery log: %v", ds)
	}
}

func TestWebhooks_RetryAfterReceiverErrorAndTestSend(t *testing.T) {
	t.Parallel()
	th, tok := newAcme(t)
	rcv := newReceiver(t)
	rcv.status = http.StatusInternalServerError
	wh := createWebhook(t, th, map[string]any{"kind": "generic", "url": rcv.srv.URL})
	id := wh["id"].(string)
	admin := th.jwt("acme", auth.RoleAdmin)
	th.heartbeat(tok, "edge-1", "203.0.113.1:1", http.StatusOK)
	if n, _ := th.dispatcher.RunOnce(context.Background()); n != 0 {
		t.Fatal("a 500 counted as delivered")
	}
	w := th.do(request{target: "/v1/tenants/acme/webhooks/" + id, bearer: admin}).json(t)
	if w["failing"] != true || w["next_attempt_at"] == nil {
		t.Fatalf("after a 500: %v", w)
	}
	rcv.mu.Lock()
	rcv.status = http.StatusNoContent
	rcv.mu.Unlock()
	th.clock.Advance(time.Minute)
	if n, _ := th.dispatcher.RunOnce(context.Background()); n != 1 {
		t.Fatal("retry not delivered")
	}
	got := rcv.all()
	if len(got) != 2 || got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") {
		t.Fatalf("retry must keep the webhook-id so receivers de-duplicate: %d messages", len(got))
	}
	ds := th.do(request{target: "/v1/tenants/acme/webhooks/" + id + "/deliveries", bearer: admin}).json(t)["deliveries"].([]any)
	if len(ds) != 2 || ds[0].(map[string]any)["attempt"] != 2.0 || ds[1].(map[string]any)["status_code"] != 500.0 {
		t.Fatalf("delivery log: %v", ds)
	}
	res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks/" + id + "/test", bearer: admin})
	if res.code != 200 || res.json(t)["test"] != true || res.json(t)["status_code"] != 204.0 {
		t.Fatalf("test send: %d %s", res.code, res.body)
	}
}

func TestWebhooks_ValidationAndSSRFGuard(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t, withSSRFGuard)
	admin := th.jwt("acme", auth.RoleAdmin)
	for _, bad := range []map[string]any{
		{"kind": "generic", "url": "ftp://example.com/x"},
		{"kind": "generic", "url": "javascript:alert(1)"},
		{"kind": "generic", "url": "https://user:pass@example.com/"},
		{"kind": "email", "url": "https://example.com/"},
		{"kind": "pager", "url": "https://example.com/"},
		{"kind": "generic", "url": "https://example.com/", "events": []string{"exploded"}},
	} {
		assertProblem(t, th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks", bearer: admin, body: bad}), http.StatusUnprocessableEntity)
	}
	for _, target := range []string{"http://127.0.0.1:9/hook", "http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]:9/hook"} {
		wh := createWebhook(t, th, map[string]any{"kind": "generic", "url": target})
		res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks/" + wh["id"].(string) + "/test", bearer: admin})
		d := res.json(t)
		if res.code != 200 || d["status_code"] != nil || d["error"] != "destination not allowed" {
			t.Errorf("%s: %d %v, want a refused delivery", target, res.code, d)
		}
	}
}

// Finding: a webhook test call answered the resolver's or the SSRF guard's
// own text ("lookup … on 10.0.0.2:53: no such host", "intranet resolves to
// 10.1.2.3, which is private"), which names internal resolvers and
// addresses. The tenant reads a generic reason; the detail is in the hub's
// log only.
func TestWebhooks_TestCallErrorsNameNoInternalAddresses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		guard  bool
		url    string
		answer string
	}{
		{true, "http://localhost:9/hook", "destination not allowed"},
		{true, "http://10.1.2.3/hook", "destination not allowed"},
		{false, "http://127.0.0.1:1/hook", "could not connect"},
		{false, "http://no-such-host.invalid/hook", "could not connect"},
	} {
		var opts []hubOption
		if tc.guard {
			opts = append(opts, withSSRFGuard)
		}
		th, _ := newAcme(t, opts...)
		admin := th.jwt("acme", auth.RoleAdmin)
		wh := createWebhook(t, th, map[string]any{"kind": "generic", "url": tc.url})
		res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks/" + wh["id"].(string) + "/test", bearer: admin})
		d := res.json(t)
		if res.code != http.StatusOK || d["error"] != tc.answer {
			t.Errorf("%s: %d, error %q, want %q", tc.url, res.code, d["error"], tc.answer)
		}
		for _, leak := range []string{"127.0.0.1", "10.1.2.3", "lookup", "resolves", ":53"} {
			if strings.Contains(string(res.body), leak) {
				t.Errorf("%s: the answer names %q: %s", tc.url, leak, res.body)
			}
		}
		if !strings.Contains(th.logs.String(), `"detail"`) {
			t.Errorf("%s: the hub's log has no detail of the failure", tc.url)
		}
	}
}

func TestWebhooks_SecretIsSealedAtRestAndRotationSignsWithBothDuringGrace(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	rcv := newReceiver(t)
	wh := createWebhook(t, th, map[string]any{"kind": "generic", "url": rcv.srv.URL})
	id, old := wh["id"].(string), wh["secret"].(string)
	admin := th.jwt("acme", auth.RoleAdmin)

	// The store holds the secret sealed, never in the clear.
	stored, err := th.store.GetWebhook(context.Background(), "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.Secret, "sealed:v1:") || strings.Contains(stored.Secret, strings.TrimPrefix(old, "whsec_")) {
		t.Fatalf("stored secret %q is not sealed", stored.Secret)
	}

	testSend := func() received {
		t.Helper()
		before := len(rcv.all())
		res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks/" + id + "/test", bearer: admin})
		if res.code != http.StatusOK || res.json(t)["status_code"] != 200.0 {
			t.Fatalf("test send: %d %s", res.code, res.body)
		}
		got := rcv.all()
		if len(got) != before+1 {
			t.Fatalf("%d messages, want %d", len(got), before+1)
		}
		return got[before]
	}
	verifies := func(secret string, m received) bool {
		return notify.Verify(secret, m.header, m.body, th.clock.Now()) == nil
	}
	if m := testSend(); !verifies(old, m) {
		t.Fatal("the creation secret does not verify a delivery")
	}

	res := th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks/" + id + "/rotate-secret?grace_seconds=3600", bearer: admin})
	if res.code != http.StatusOK {
		t.Fatalf("rotate: %d %s", res.code, res.body)
	}
	rotated := res.json(t)
	fresh, _ := rotated["secret"].(string)
	if !strings.HasPrefix(fresh, "whsec_") || fresh == old || rotated["previous_secret_until"] == nil {
		t.Fatalf("rotate answered %s", res.body)
	}
	if get := th.do(request{target: "/v1/tenants/acme/webhooks/" + id, bearer: admin}); strings.Contains(string(get.body), fresh) ||
		strings.Contains(string(get.body), old) || get.json(t)["previous_secret_until"] == nil {
		t.Fatalf("webhook after rotation: %s", get.body)
	}
	// During the grace period a receiver with either secret verifies.
	m := testSend()
	if !verifies(old, m) || !verifies(fresh, m) || len(strings.Fields(m.header.Get(notify.HeaderSignature))) != 2 {
		t.Fatalf("during grace: old %v new %v, header %q", verifies(old, m), verifies(fresh, m), m.header.Get(notify.HeaderSignature))
	}
	// After it, only the new one.
	th.clock.Advance(time.Hour + time.Second)
	m = testSend()
	if verifies(old, m) || !verifies(fresh, m) {
		t.Fatalf("after grace: old %v new %v", verifies(old, m), verifies(fresh, m))
	}
	// A rotation without grace retires the secret at once.
	res = th.do(request{method: http.MethodPost, target: "/v1/tenants/acme/webhooks/" + id + "/rotate-secret?grace_seconds=0", bearer: admin})
	third, _ := res.json(t)["secret"].(string)
	if m := testSend(); res.code != http.StatusOK || verifies(fresh, m) || !verifies(third, m) {
		t.Fatalf("rotation without grace: %d %s", res.code, res.body)
	}

	slack := createWebhook(t, th, map[string]any{"kind": "slack", "url": "https://hooks.slack.com/services/T0/B0/x"})
	cases := []struct {
		name, target, bearer string
		want                 int
	}{
		{"grace too long", "/v1/tenants/acme/webhooks/" + id + "/rotate-secret?grace_seconds=604801", admin, http.StatusUnprocessableEntity},
		{"negative grace", "/v1/tenants/acme/webhooks/" + id + "/rotate-secret?grace_seconds=-1", admin, http.StatusUnprocessableEntity},
		{"unsigned kind", "/v1/tenants/acme/webhooks/" + slack["id"].(string) + "/rotate-secret", admin, http.StatusUnprocessableEntity},
		{"unknown webhook", "/v1/tenants/acme/webhooks/wh_nope/rotate-secret", admin, http.StatusNotFound},
		{"viewer", "/v1/tenants/acme/webhooks/" + id + "/rotate-secret", th.jwt("acme", auth.RoleViewer), http.StatusForbidden},
		{"another tenant's admin", "/v1/tenants/acme/webhooks/" + id + "/rotate-secret", th.jwt("globex", auth.RoleAdmin), http.StatusNotFound},
	}
	for _, tc := range cases {
		res := th.do(request{method: http.MethodPost, target: tc.target, bearer: tc.bearer})
		if res.code != tc.want || res.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want %d problem+json", tc.name, res.code, res.body, tc.want)
		}
	}
	// None of the refusals changed the secret.
	if m := testSend(); !verifies(third, m) {
		t.Fatal("a refused rotation changed the secret")
	}
	if strings.Contains(th.logs.String(), third) || strings.Contains(th.logs.String(), fresh) {
		t.Fatal("a secret is in the log")
	}
}
