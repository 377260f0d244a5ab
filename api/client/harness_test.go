package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/ratelimit"
	"github.com/proxyhub/proxyhub/internal/store/memory"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// The end-to-end tests drive a whole hub (internal/app, as `proxyhub
// serve` wires it) over real HTTP, through the SDK only, on every store.

// t0 is where every hub's fake clock starts (whole microseconds, as
// PostgreSQL keeps times).
var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// fakeClock is the hub's clock; tests move it forward instead of sleeping.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now is the hub's time.
func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// storeKind names a store and opens a fresh, empty one for a test; the
// store is closed when the test ends.
type storeKind struct {
	name string
	open func(t *testing.T) hub.Store
}

// stores are the stores every scenario runs on.
var stores = []storeKind{
	{"memory", func(t *testing.T) hub.Store {
		s := memory.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"postgres", func(t *testing.T) hub.Store {
		// pgtest skips without a database, and fails with CI=true.
		dbURL := pgtest.URL(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s, err := postgres.Open(ctx, dbURL, postgres.Options{})
		if err != nil {
			t.Fatalf("open the test database: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// forEachStore runs scenario once per store, as parallel subtests named
// after the store, each on a hub of its own.
func forEachStore(t *testing.T, scenario func(t *testing.T, h *hubUnderTest)) {
	t.Helper()
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			scenario(t, newHubUnderTest(t, s.open(t)))
		})
	}
}

// hubUnderTest is one hub behind an httptest server: the production
// handler stack on a given store, with a fake clock, trusting the test's
// own address as a load balancer so that heartbeats can name their
// client IP in X-Forwarded-For.
type hubUnderTest struct {
	// URL is the hub's base URL, for client.New.
	URL string
	// Clock is the hub's clock.
	Clock *fakeClock
	// Platform is an SDK client with a platform JWT (every tenant).
	Platform *client.Hub

	signer *auth.Signer
}

// unlimited is a rate no test reaches.
var unlimited = ratelimit.Rate{Tokens: 200_000, Interval: time.Minute}

// newHubUnderTest starts a hub on st, stopped when the test ends.
func newHubUnderTest(t testing.TB, st hub.Store) *hubUnderTest {
	t.Helper()
	cfg, err := config.LoadServe(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// Webhook receivers are httptest servers on 127.0.0.1.
	cfg.WebhookPrivate = true
	cfg.RateHeartbeat, cfg.RateAdmin, cfg.RateAuthFailure = unlimited, unlimited, unlimited
	// The test client is the load balancer: X-Forwarded-For counts.
	if cfg.TrustedProxies, err = clientip.ParseTrusted("127.0.0.1, ::1"); err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: t0}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Config: cfg, Clock: clock.Now, Store: st, SigningKey: key})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		_ = a.Close()
	})
	h := &hubUnderTest{URL: srv.URL, Clock: clock, signer: a.Signer}
	h.Platform = h.As(t, "", auth.RolePlatform)
	return h
}

// JWT mints an admin JWT for tenant ("" for the platform) and role, valid
// for an hour of the hub's clock.
func (h *hubUnderTest) JWT(t testing.TB, tenant string, role auth.Role) string {
	t.Helper()
	jwt, err := h.signer.Sign("e2e-"+string(role), tenant, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}

// Client returns an SDK client of the hub.
func (h *hubUnderTest) Client(t testing.TB, opts ...client.Option) *client.Hub {
	t.Helper()
	c, err := client.New(h.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// As returns an SDK client authenticated with a JWT for tenant and role.
func (h *hubUnderTest) As(t testing.TB, tenant string, role auth.Role) *client.Hub {
	t.Helper()
	return h.Client(t, client.WithToken(h.JWT(t, tenant, role)))
}

// Tenant creates tenant id as the platform, with the settings in body
// (its id is set here).
func (h *hubUnderTest) Tenant(t testing.TB, id string, body ...client.TenantCreate) client.Tenant {
	t.Helper()
	b := client.TenantCreate{}
	if len(body) > 0 {
		b = body[0]
	}
	b.Id = id
	res, err := h.Platform.CreateTenantWithResponse(t.Context(), b)
	check(t, err)
	return *res.JSON201
}

// Token creates a heartbeat token of tenant as its admin and returns it
// with its secret.
func (h *hubUnderTest) Token(t testing.TB, tenant string, body ...client.TokenCreate) client.TokenCreated {
	t.Helper()
	b := client.TokenCreate{Label: "cron"}
	if len(body) > 0 {
		b = body[0]
	}
	res, err := h.As(t, tenant, auth.RoleAdmin).CreateTokenWithResponse(t.Context(), tenant, b)
	check(t, err)
	return *res.JSON201
}

// heartbeat is what one cron curl got back.
type heartbeat struct {
	status int
	body   []byte
}

// Result decodes a 200 answer.
func (hb heartbeat) Result(t testing.TB) client.HeartbeatResult {
	t.Helper()
	var r client.HeartbeatResult
	if err := json.Unmarshal(hb.body, &r); err != nil {
		t.Fatalf("heartbeat answer: %v\n%s", err, hb.body)
	}
	return r
}

// Problem decodes an error answer.
func (hb heartbeat) Problem(t testing.TB) client.Problem {
	t.Helper()
	var p client.Problem
	if err := json.Unmarshal(hb.body, &p); err != nil {
		t.Fatalf("heartbeat problem: %v\n%s", err, hb.body)
	}
	return p
}

// Heartbeat sends what cron sends, plain HTTP and not the SDK:
// GET /proxy_server?name=… with the heartbeat token as a bearer token, here
// through a load balancer that says the proxy's IP is ip.
func (h *hubUnderTest) Heartbeat(t testing.TB, token, name, ip string) heartbeat {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, h.URL+"/proxy_server?name="+url.QueryEscape(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", ip)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("heartbeat %s from %s: %v", name, ip, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return heartbeat{status: res.StatusCode, body: b}
}

// MustHeartbeat sends a heartbeat and fails the test unless it is
// recorded.
func (h *hubUnderTest) MustHeartbeat(t testing.TB, token, name, ip string) client.HeartbeatResult {
	t.Helper()
	hb := h.Heartbeat(t, token, name, ip)
	if hb.status != http.StatusOK {
		t.Fatalf("heartbeat %s from %s: %d %s", name, ip, hb.status, hb.body)
	}
	return hb.Result(t)
}

// check fails the test on an error from a call that should succeed.
func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// wantProblem fails the test unless err is a *client.ProblemError with
// status and type (any type when typ is empty), and returns it.
func wantProblem(t testing.TB, err error, status int, typ client.ProblemType) *client.ProblemError {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %d %s", status, typ)
	}
	pe, ok := client.AsProblem(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a *client.ProblemError", err, errors.Unwrap(err))
	}
	if pe.StatusCode != status || (typ != "" && pe.Problem.Type != typ) || pe.Problem.Status != int64(status) {
		t.Fatalf("got %d %s (problem status %d), want %d %s: %v", pe.StatusCode, pe.Problem.Type, pe.Problem.Status, status, typ, pe)
	}
	return pe
}

// ptr returns a pointer to v, for the SDK's optional fields.
func ptr[T any](v T) *T { return &v }
