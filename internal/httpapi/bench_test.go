package httpapi_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkHeartbeat_FullStack is one heartbeat through the whole handler
// stack on the embedded store: request id, client IP from a trusted
// proxy's X-Forwarded-For, token authentication, rate limit, Rego policy
// (cached), source-IP policy, store, JSON answer, access log (JSON to a
// discarding writer).
//
//	go test -run x -bench FullStack -benchmem ./internal/httpapi
func BenchmarkHeartbeat_FullStack(b *testing.B) {
	th, tok := newAcme(b, withTrusted("127.0.0.1"), withLimits(30000, 30000, 30000), withLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
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
