package httpapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/eventbus"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/notify"
	"github.com/proxyhub/proxyhub/internal/ratelimit"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// testHub is the production wiring (internal/app) over a store, with a
// fake clock, a signing key, and a captured JSON log.
type testHub struct {
	t       testing.TB
	app     *app.App
	handler http.Handler
	store   hub.Store
	hub     *hub.Service
	clock   *clock
	logs    *syncBuffer
	live    hub.LivenessStore
	// dispatcher delivers webhooks; the SSRF guard is off so that it
	// reaches the test receivers on 127.0.0.1 (on with withSSRFGuard).
	dispatcher *notify.Dispatcher
	bus        *eventbus.Bus
	key        ed25519.PrivateKey
	signer     *auth.Signer
}

type hubOption func(*app.Options)

func withTrusted(cidrs string) hubOption {
	return func(o *app.Options) {
		p, err := clientip.ParseTrusted(cidrs)
		if err != nil {
			panic(err)
		}
		o.Config.TrustedProxies = p
	}
}

func withStore(s hub.Store) hubOption { return func(o *app.Options) { o.Store = s } }

func withLogger(l *slog.Logger) hubOption { return func(o *app.Options) { o.Logger = l } }

// withSSRFGuard keeps the webhook dispatcher's SSRF guard on (the other
// tests turn it off to reach receivers on 127.0.0.1).
func withSSRFGuard(o *app.Options) { o.Config.WebhookPrivate = false }

// unlimited is a rate no test reaches: limits are on, as in production,
// but only the rate-limit tests (withLimits) trip them.
var unlimited = ratelimit.Rate{Tokens: 200_000, Interval: time.Minute}

var start = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func newTestHub(t testing.TB, opts ...hubOption) *testHub {
	t.Helper()
	th := &testHub{t: t, clock: &clock{t: start}, logs: &syncBuffer{}}
	cfg, err := config.LoadServe(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg.WebhookPrivate = true
	cfg.RateHeartbeat, cfg.RateAdmin, cfg.RateAuthFailure = unlimited, unlimited, unlimited
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	o := app.Options{
		Config:     cfg,
		Logger:     slog.New(slog.NewJSONHandler(th.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:      th.clock.Now,
		Store:      memory.New(),
		SigningKey: key,
	}
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = a.Close() })
	th.app, th.handler, th.store, th.hub, th.live = a, a.Handler(), a.Store, a.Hub, a.Store
	th.dispatcher, th.bus, th.key, th.signer = a.Dispatcher, a.Bus, key, a.Signer
	// The event bus wakes live streams; the sweeper and the dispatcher are
	// driven by the tests themselves (SweepOnce, RunOnce) on the fake clock.
	go func() { _ = th.bus.Run(ctx, a.Store) }()
	return th
}

// tenant creates a tenant through the hub (test setup).
func (th *testHub) tenant(id string, set ...hub.TenantSettings) {
	th.t.Helper()
	s := hub.TenantSettings{}
	if len(set) > 0 {
		s = set[0]
	}
	if _, err := th.hub.CreateTenant(context.Background(), id, s); err != nil {
		th.t.Fatal(err)
	}
}

// token creates a heartbeat token and returns its secret.
func (th *testHub) token(tenant string, in ...hub.NewToken) string {
	th.t.Helper()
	req := hub.NewToken{Label: "test"}
	if len(in) > 0 {
		req = in[0]
	}
	_, secret, err := th.hub.CreateToken(context.Background(), tenant, req)
	if err != nil {
		th.t.Fatal(err)
	}
	return secret
}

// jwt mints an admin JWT valid for an hour.
func (th *testHub) jwt(tenant string, role auth.Role) string {
	th.t.Helper()
	s, err := th.signer.Sign("test-admin", tenant, role, time.Hour)
	if err != nil {
		th.t.Fatal(err)
	}
	return s
}

// request is one call to the hub.
type request struct {
	method, target string
	peer           string // RemoteAddr, default 203.0.113.10:40000
	bearer         string // Authorization: Bearer …
	header         http.Header
	body           any // JSON-encoded unless a string
	// ctx, when set, is the request's context (a client that went away).
	ctx context.Context
}

// response is what the hub answered.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func (th *testHub) do(req request) response {
	th.t.Helper()
	if req.method == "" {
		req.method = http.MethodGet
	}
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		body = bytes.NewReader(j)
	}
	r := httptest.NewRequest(req.method, req.target, body)
	if req.ctx != nil {
		r = r.WithContext(req.ctx)
	}
	if strings.Contains(req.target, "/events/stream") {
		// A live stream never ends by itself: hang up after a moment.
		ctx, cancel := context.WithTimeout(r.Context(), 300*time.Millisecond)
		defer cancel()
		r = r.WithContext(ctx)
	}
	r.RemoteAddr = "203.0.113.10:40000"
	if req.peer != "" {
		r.RemoteAddr = req.peer
	}
	if req.body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+req.bearer)
	}
	for k, vs := range req.header {
		r.Header.Del(k)
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	th.handler.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return response{code: w.Code, header: w.Result().Header, body: b}
}

// heartbeat sends a heartbeat for name from peer with token and fails the
// test unless it answers want.
func (th *testHub) heartbeat(token, name, peer string, want int) map[string]any {
	th.t.Helper()
	res := th.do(request{target: "/proxy_server?name=" + name, peer: peer, bearer: token})
	if res.code != want {
		th.t.Fatalf("heartbeat %s from %s: status %d, want %d\n%s", name, peer, res.code, want, res.body)
	}
	return res.json(th.t)
}

func (th *testHub) proxies(tenant string) []hub.Proxy {
	th.t.Helper()
	ps, err := th.store.ListProxies(context.Background(), tenant, hub.ProxyQuery{})
	if err != nil {
		th.t.Fatal(err)
	}
	return ps
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// assertProblem checks an RFC 9457 answer.
func assertProblem(t testing.TB, res response, status int) map[string]any {
	t.Helper()
	if res.code != status {
		t.Fatalf("status %d, want %d\n%s", res.code, status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := res.json(t)
	if int(p["status"].(float64)) != status || p["title"] == "" {
		t.Fatalf("problem body %v lacks status/title", p)
	}
	// The type is the kind the status names, or for 403 one of its finer
	// kinds; the instance names this request by the id the hub logs.
	typ, _ := p["type"].(string)
	if want := string(api.ProblemTypeFor(status)); typ != want &&
		(status != http.StatusForbidden || !slices.Contains(forbiddenKinds, api.ProblemType(typ))) &&
		(status != http.StatusBadRequest || typ != string(api.ProblemInvalidInput) || p["errors"] == nil) {
		t.Fatalf("problem type %q, want %q", typ, want)
	}
	if want := "urn:proxyhub:request:" + res.header.Get("X-Request-Id"); p["instance"] != want {
		t.Fatalf("problem instance %v, want %q", p["instance"], want)
	}
	return p
}

// newAcme is a hub with tenant "acme" and one unbound heartbeat token.
func newAcme(t testing.TB, opts ...hubOption) (*testHub, string) {
	t.Helper()
	th := newTestHub(t, opts...)
	th.tenant("acme")
	return th, th.token("acme")
}

// forbiddenKinds are the kinds of 403 finer than forbidden.
var forbiddenKinds = []api.ProblemType{api.ProblemSourceNotAllowed, api.ProblemQuotaExceeded, api.ProblemProxyNotRegistered}

// withoutTokenLimit turns off the per-token heartbeat limit, for
// benchmarks that send one token's heartbeats faster than any fleet.
func withoutTokenLimit(o *app.Options) { o.Config.NoHeartbeatTokenLimit = true }
