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
