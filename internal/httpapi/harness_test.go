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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/eventbus"
	"github.com/proxyhub/proxyhub/internal/httpapi"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/metrics"
	"github.com/proxyhub/proxyhub/internal/notify"
	"github.com/proxyhub/proxyhub/internal/policy"
	"github.com/proxyhub/proxyhub/internal/store/memory"
	"github.com/proxyhub/proxyhub/internal/tenancy"
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

// testHub is the real handler stack over a store, with a fake clock, a
// signing key, and a captured JSON log.
type testHub struct {
	t       testing.TB
	handler http.Handler
	store   hub.Store
	clock   *clock
	logs    *syncBuffer
	live    hub.LivenessStore
	// dispatcher delivers webhooks; allowPrivate lets it reach the test
	// receivers on 127.0.0.1 (set by newTestHub unless withSSRFGuard).
	dispatcher   *notify.Dispatcher
	allowPrivate bool
	bus          *eventbus.Bus
	key          ed25519.PrivateKey
	signer       *auth.Signer
	tenancy      *tenancy.Service
}

type hubOption func(*httpapi.Deps)

func withTrusted(cidrs string) hubOption {
	return func(d *httpapi.Deps) {
		p, err := clientip.ParseTrusted(cidrs)
		if err != nil {
			panic(err)
		}
		d.ClientIP = clientip.NewResolver(p)
	}
}

func withStore(s hub.Store) hubOption { return func(d *httpapi.Deps) { d.Store = s } }

func withLogger(l *slog.Logger) hubOption { return func(d *httpapi.Deps) { d.Logger = l } }

// withSSRFGuard keeps the webhook dispatcher's SSRF guard on (the other
// tests turn it off to reach receivers on 127.0.0.1).
var withSSRFGuard hubOption

var start = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func newTestHub(t testing.TB, opts ...hubOption) *testHub {
	t.Helper()
	th := &testHub{t: t, clock: &clock{t: start}, logs: &syncBuffer{}, allowPrivate: true}
	for _, o := range opts {
		if o == nil { // withSSRFGuard
			th.allowPrivate = false
		}
	}
	log := slog.New(slog.NewJSONHandler(th.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mem := memory.New()
	d := httpapi.Deps{Store: mem, Logger: log, Metrics: metrics.New()}
	for _, o := range opts {
		if o != nil {
			o(&d)
		}
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	th.key = key
	th.signer = auth.NewSigner(key, auth.LocalIssuer, auth.LocalAudience, th.clock.Now)
	verifier, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		LocalKey: key.Public().(ed25519.PublicKey), LocalIssuer: auth.LocalIssuer, Audience: auth.LocalAudience, Now: th.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := policy.New(context.Background(), policy.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	d.Authz = engine
	d.Hub = hub.New(hub.Options{Store: d.Store, Clock: th.clock.Now, Logger: d.Logger, Observer: d.Metrics, Sources: engine})
	d.Tenancy = tenancy.New(d.Store, th.signer, th.clock.Now)
	d.Tenancy.OnChange(func(ctx context.Context, t hub.Tenant) error {
		d.Hub.ForgetTenant(t.ID)
		return engine.SetTenant(ctx, t)
	})
	d.Auth = auth.NewAuthenticator(d.Store, verifier, th.clock.Now)
	th.store = d.Store
	th.live = d.Store
	th.bus = &eventbus.Bus{}
	d.Bus = th.bus
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = th.bus.Run(ctx, d.Store) }()
	th.dispatcher = notify.NewDispatcher(d.Store, notify.Config{AllowPrivate: th.allowPrivate, Now: th.clock.Now, Logger: log})
	d.Tester = th.dispatcher
	th.tenancy = d.Tenancy
	th.handler = httpapi.New(d)
	return th
}

// tenant creates a tenant directly in the store (test setup).
func (th *testHub) tenant(id string, set ...tenancy.TenantSettings) {
	th.t.Helper()
	s := tenancy.TenantSettings{}
	if len(set) > 0 {
		s = set[0]
	}
	if _, err := th.tenancy.CreateTenant(context.Background(), id, s); err != nil {
		th.t.Fatal(err)
	}
}

// token creates a heartbeat token and returns its secret.
func (th *testHub) token(tenant string, in ...tenancy.NewToken) string {
	th.t.Helper()
	req := tenancy.NewToken{Label: "test"}
	if len(in) > 0 {
		req = in[0]
	}
	_, secret, err := th.tenancy.CreateToken(context.Background(), tenant, req)
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
	return p
}

// newAcme is a hub with tenant "acme" and one unbound heartbeat token.
func newAcme(t testing.TB, opts ...hubOption) (*testHub, string) {
	t.Helper()
	th := newTestHub(t, opts...)
	th.tenant("acme")
	return th, th.token("acme")
}
