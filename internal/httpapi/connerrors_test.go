package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/httpapi"
)

// Finding: a request whose header fields are too large was answered 431
// as text/plain by net/http itself. Every answer the hub produces,
// including those net/http writes before any handler runs, is RFC 9457
// problem+json; a handler's answers pass untouched.
func TestServer_NetHTTPOwnErrorsAreProblems(t *testing.T) {
	t.Parallel()
	th, _ := newAcme(t)
	srv := httptest.NewUnstartedServer(th.handler)
	srv.Listener = httpapi.ProblemListener(srv.Listener)
	srv.Config.MaxHeaderBytes = 4 << 10
	srv.Start()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	for _, tc := range []struct {
		name, raw string
		status    int
		detail    string
		problem   bool
	}{
		{"header too large", "GET /healthz HTTP/1.1\r\nHost: hub\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
			http.StatusRequestHeaderFieldsTooLarge, "too large", true},
		{"no Host", "GET /healthz HTTP/1.1\r\n\r\n", http.StatusBadRequest, "missing required Host header", true},
		{"bad transfer coding", "POST /v1/auth/token HTTP/1.1\r\nHost: hub\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
			http.StatusNotImplemented, "transfer encoding", true},
		{"handler's own 404", "GET /nowhere HTTP/1.1\r\nHost: hub\r\n\r\n", http.StatusNotFound, "no such resource", true},
		{"a good request", "GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n", http.StatusOK, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			go func() { _, _ = io.WriteString(c, tc.raw) }()
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d\n%s", res.StatusCode, tc.status, body)
			}
			if !tc.problem {
				return
			}
			var p map[string]any
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(body, &p) != nil {
				t.Fatalf("Content-Type %q, body %s", ct, body)
			}
			if p["status"] != float64(tc.status) || !strings.Contains(p["detail"].(string), tc.detail) || p["type"] == nil || p["title"] != http.StatusText(tc.status) {
				t.Fatalf("problem %v", p)
			}
		})
	}
}
