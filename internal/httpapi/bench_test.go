package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/memory"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
	"github.com/proxyhub/proxyhub/internal/store/sqlite"
)

// BenchmarkHeartbeat_FullStack is one heartbeat through the whole handler
// stack on the in-memory store: request id, client IP from a trusted
// proxy's X-Forwarded-For, token authentication, rate limit, Rego policy
// (cached), source-IP policy, store, JSON answer, access log (JSON to a
// discarding writer).
//
//	go test -run x -bench FullStack -benchmem ./internal/httpapi
func BenchmarkHeartbeat_FullStack(b *testing.B) {
	th, tok := newAcme(b, withTrusted("127.0.0.1"), withLimits(30000, 30000, 30000), withoutTokenLimit, withLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("/proxy_server?name=edge-%d", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, names[i%len(names)], nil)
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("X-Forwarded-For", "203.0.113.7")
		w := httptest.NewRecorder()
		th.handler.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		i++
	}
}

// BenchmarkHeartbeat_Parallel compares the stores under a burst:
// heartbeats of 1,024 proxies through the whole handler stack (as
// BenchmarkHeartbeat_FullStack) from 32 callers per core at once, on the
// in-memory store, on PostgreSQL (a fresh test database; each caller is
// answered after its batch commits) and on the durable embedded store
// (SQLite in a temporary directory, synchronous NORMAL, the default, and
// FULL), whose group
// commit then writes many heartbeats per transaction: with NORMAL these
// steady-state heartbeats are answered once decided and their log rows
// follow within 5 ms; with FULL each caller is answered after its COMMIT,
// fsynced. ns/op is wall time per heartbeat (the inverse of
// the rate); each caller reuses the requests it built once.
//
//	go test -run '^$' -bench Heartbeat_Parallel -benchmem -count 6 ./internal/httpapi
func BenchmarkHeartbeat_Parallel(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) hub.Store
	}{
		{"store=memory", func(*testing.B) hub.Store { return memory.New() }},
		{"store=sqlite", func(b *testing.B) hub.Store { return openSQLite(b, "NORMAL") }},
		{"store=sqlite-full", func(b *testing.B) hub.Store { return openSQLite(b, "FULL") }},
		{"store=postgres", openPostgres},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			th, tok := newAcme(b, withStore(st.open(b)), withTrusted("127.0.0.1"), withLimits(30000, 30000, 30000), withoutTokenLimit,
				withLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
			const perCaller = 16
			var callers atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				first := int(callers.Add(1)-1) * perCaller
				reqs := make([]*http.Request, perCaller)
				w := &discardWriter{header: http.Header{}}
				for i := 0; pb.Next(); i++ {
					j := i % perCaller
					if reqs[j] == nil {
						r := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/proxy_server?name=edge-%d", (first+j)%1024), nil)
						r.RemoteAddr = "127.0.0.1:40000"
						r.Header.Set("Authorization", "Bearer "+tok)
						r.Header.Set("X-Forwarded-For", "203.0.113.7")
						reqs[j] = r
					}
					r := *reqs[j] // a shallow copy: the handlers only read the request
					w.reset()
					th.handler.ServeHTTP(w, &r)
					if w.code != http.StatusOK {
						b.Errorf("heartbeat: %d", w.code)
						return
					}
				}
			})
		})
	}
}

// BenchmarkHeartbeat_Hub measures what the hub spends on one heartbeat,
// not the harness: each request is built once and replayed (a shallow
// copy per call), answered into a writer that keeps only the status. The
// whole secure stack runs: request id, client IP from a trusted proxy's
// X-Forwarded-For, token authentication, rate limit, Rego policy (cached),
// source-IP decision, store, answer, metrics, access log (JSON to a
// discarding writer). Cases: a known proxy whose IP stays (the steady
// state), one whose IP changes every time, and one refused by the
// tenant's allowlist; on the in-memory store and on the durable embedded
// one (SQLite in a temporary directory).
//
//	go test -run '^$' -bench Heartbeat_Hub -benchmem ./internal/httpapi
func BenchmarkHeartbeat_Hub(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) hub.Store
	}{
		{"store=memory", func(*testing.B) hub.Store { return memory.New() }},
		{"store=sqlite", func(b *testing.B) hub.Store { return openSQLite(b, "NORMAL") }},
	}
	cases := []struct {
		name   string
		ips    []string // X-Forwarded-For, in turn
		status int
	}{
		{"case=steady", []string{"203.0.113.7"}, http.StatusOK},
		{"case=ip-change", []string{"203.0.113.7", "203.0.113.8"}, http.StatusOK},
		{"case=denied", []string{"198.51.100.7"}, http.StatusForbidden},
	}
	for _, st := range stores {
		for _, tc := range cases {
			b.Run(st.name+"/"+tc.name, func(b *testing.B) {
				th, tok := newAcme(b, withStore(st.open(b)), withTrusted("127.0.0.1"), withLimits(30000, 30000, 30000), withoutTokenLimit,
					withLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
				if res := th.do(request{method: http.MethodPut, target: "/v1/tenants/acme/allowlist", bearer: th.jwt("acme", auth.RoleAdmin),
					body: map[string]any{"cidrs": []string{"203.0.113.0/24"}}}); res.code != http.StatusOK {
					b.Fatalf("allowlist: %d %s", res.code, res.body)
				}
				build := func(name, ip string) *http.Request {
					r := httptest.NewRequest(http.MethodGet, "/proxy_server?name="+name, nil)
					r.RemoteAddr = "127.0.0.1:40000"
					r.Header.Set("Authorization", "Bearer "+tok)
					r.Header.Set("X-Forwarded-For", ip)
					return r
				}
				w := &discardWriter{header: http.Header{}}
				// reqs[i] is the i-th heartbeat of a round over benchProxies
				// names (so no name meets its own rate limit), each name
				// from every address in tc.ips in turn.
				var reqs []*http.Request
				for _, ip := range tc.ips {
					for n := range benchProxies {
						reqs = append(reqs, build(fmt.Sprintf("edge-%d", n), ip))
					}
				}
				for n := range benchProxies { // registered from an allowed address
					w.reset()
					th.handler.ServeHTTP(w, build(fmt.Sprintf("edge-%d", n), "203.0.113.7"))
					if w.code != http.StatusOK {
						b.Fatalf("registration: %d", w.code)
					}
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					w.reset()
					th.handler.ServeHTTP(w, reqs[i%len(reqs)]) // the handlers only read the request

					if w.code != tc.status {
						b.Fatalf("heartbeat %d: %d, want %d", i, w.code, tc.status)
					}
					i++
				}
			})
		}
	}
}

// benchProxies is how many proxy names BenchmarkHeartbeat_Hub spreads its
// heartbeats over.
const benchProxies = 64

// openSQLite opens a durable embedded store in a temporary directory,
// closed when b ends.
func openSQLite(b *testing.B, synchronous string) hub.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "proxyhub.db"), sqlite.Options{Synchronous: synchronous})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// openPostgres opens the PostgreSQL store on a fresh test database (as
// the application role), closed when b ends.
func openPostgres(b *testing.B) hub.Store {
	b.Helper()
	s, err := postgres.Open(context.Background(), pgtest.AppURL(b, pgtest.URL(b)), postgres.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// discardWriter is an http.ResponseWriter that keeps only the status.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) reset() { clear(w.header); w.code = 0 }
