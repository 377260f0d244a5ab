package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

var _ Store = (*memory.Store)(nil)

var t0 = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for cfg.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newStore returns a memory store with tenant "acme" (offline after 1 min).
func newStore(t *testing.T) *memory.Store {
	t.Helper()
	s := memory.New()
	if err := s.CreateTenant(context.Background(), hub.Tenant{ID: "acme", Name: "Acme", OfflineAfter: time.Minute, AutoRegister: true, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	return s
}

func heartbeat(t *testing.T, s *memory.Store, name, ip string, at time.Time) {
	t.Helper()
	a := netip.MustParseAddr(ip)
	if _, err := s.RecordHeartbeat(context.Background(), hub.Heartbeat{TenantID: "acme", Name: name, IP: a, PeerIP: a, At: at, MayCreate: true}); err != nil {
		t.Fatal(err)
	}
}

var webhookSeq int

func addWebhook(t *testing.T, s *memory.Store, kind, url string, types ...hub.EventType) hub.Webhook {
	t.Helper()
	if err := ValidateURL(kind, url); err != nil {
		t.Fatalf("ValidateURL(%q): %v", url, err)
	}
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	webhookSeq++
	w, err := s.CreateWebhook(context.Background(), hub.Webhook{
		ID: fmt.Sprintf("wh_%d", webhookSeq), TenantID: "acme", Kind: kind, URL: url, Events: types,
		Enabled: true, Secret: secret, CreatedAt: t0, UpdatedAt: t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func getWebhook(t *testing.T, s *memory.Store, w hub.Webhook) hub.Webhook {
	t.Helper()
	got, err := s.GetWebhook(context.Background(), w.TenantID, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// deliveries returns the webhook's delivery log, newest first.
func deliveries(t *testing.T, s *memory.Store, w hub.Webhook) []hub.Delivery {
	t.Helper()
	ds, err := s.ListDeliveries(context.Background(), w.TenantID, w.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func newestEvent(t *testing.T, s *memory.Store) int64 {
	t.Helper()
	var id int64
	_ = s.ScanEvents(context.Background(), "acme", hub.EventQuery{Limit: 1}, func(e hub.Event) error { id = e.ID; return nil })
	return id
}

func runOnce(t *testing.T, d *Dispatcher) int {
	t.Helper()
	n, err := d.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return n
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an httptest webhook receiver answering status(n) to its
// n-th request (1-based).
type receiver struct {
	mu     sync.Mutex
	reqs   []received
	status func(n int) int
	srv    *httptest.Server
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	t.Helper()
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, received{header: req.Header.Clone(), body: body})
		n := len(r.reqs)
		r.mu.Unlock()
		code := http.StatusOK
		if r.status != nil {
			code = r.status(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func ok200(int) int { return http.StatusOK }

func (r *receiver) URL() string { return r.srv.URL + "/hook" }

func (r *receiver) got() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.reqs...)
}

func payload(t *testing.T, rc received) Payload {
	t.Helper()
	var p Payload
	if err := json.Unmarshal(rc.body, &p); err != nil {
		t.Fatalf("payload %s: %v", rc.body, err)
	}
	return p
}

func slackText(t *testing.T, rc received) string {
	t.Helper()
	var m struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(rc.body, &m); err != nil {
		t.Fatalf("slack body %s: %v", rc.body, err)
	}
	return m.Text
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func testLogger(buf *syncBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
