package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

// logLines parses the captured JSON log, one object a line.
func (th *testHub) logLines() []map[string]any {
	th.t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(th.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			th.t.Fatalf("log line is not JSON: %v\n%s", err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

// requestLines returns the access log lines of one operation.
func (th *testHub) requestLines(operation string) []map[string]any {
	th.t.Helper()
	var out []map[string]any
	for _, l := range th.logLines() {
		if l["msg"] == "request" && l["operation"] == operation {
			out = append(out, l)
		}
	}
	return out
}

// errorLines returns the lines logged at ERROR.
func (th *testHub) errorLines() []map[string]any {
	th.t.Helper()
	var out []map[string]any
	for _, l := range th.logLines() {
		if l["level"] == "ERROR" {
			out = append(out, l)
		}
	}
	return out
}

// requestCount reads proxyhub_http_requests_total for one operation and
// status code from /metrics (0 when the series does not exist).
func (th *testHub) requestCount(operation string, code int) string {
	th.t.Helper()
	series := fmt.Sprintf(`proxyhub_http_requests_total{code="%d",operation="%s"} `, code, operation)
	for _, line := range strings.Split(string(th.do(request{target: "/metrics"}).body), "\n") {
		if v, ok := strings.CutPrefix(line, series); ok {
			return v
		}
	}
	return "0"
}

// errStore fails every heartbeat write with err; when hangUp is set it
// is called first: the client hangs up while the write is under way.
type errStore struct {
	hub.Store
	err    error
	hangUp func()
}

func (s errStore) RecordHeartbeat(context.Context, hub.Heartbeat) (hub.HeartbeatResult, error) {
	if s.hangUp != nil {
		s.hangUp()
	}
	return hub.HeartbeatResult{}, s.err
}

// When the client hangs up.
const (
	stays = iota
	beforeRequest
	duringWrite
)

// A client that hangs up is nobody's error: its request is counted as 499
// (nginx's "client closed request"), logs nothing at ERROR and is no
// failed authentication. A cancellation the client did not cause is still
// an internal error, and a deadline still means the store is too slow (503).
func TestCancellation_ClientGoneIs499NotAnError(t *testing.T) {
	cases := []struct {
		name     string
		storeErr error
		hangUp   int
		status   int
		errorLog bool
	}{
		{"client hangs up during the write", context.Canceled, duringWrite, 499, false},
		{"client hangs up during the write, wrapped", fmt.Errorf("record heartbeat: %w", context.Canceled), duringWrite, 499, false},
		{"client gone before authentication", nil, beforeRequest, 499, false},
		{"cancelled while the client waits", context.Canceled, stays, http.StatusInternalServerError, true},
		{"deadline exceeded", context.DeadlineExceeded, stays, http.StatusServiceUnavailable, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := errStore{Store: memory.New(), err: tc.storeErr}
			switch tc.hangUp {
			case beforeRequest:
				cancel()
			case duringWrite:
				s.hangUp = cancel
			}
			th, tok := newAcme(t, withStore(s))
			res := th.do(request{target: "/proxy_server?name=edge-1", bearer: tok, ctx: ctx})
			if res.code != tc.status {
				t.Errorf("answered %d, want %d\n%s", res.code, tc.status, res.body)
			}
			lines := th.requestLines("heartbeat")
			if len(lines) != 1 || lines[0]["status"] != float64(tc.status) {
				t.Errorf("access log %v, want one heartbeat line with status %d", lines, tc.status)
			}
			if got := th.requestCount("heartbeat", tc.status); got != "1" {
				t.Errorf("metric for %d = %s, want 1", tc.status, got)
			}
			if tc.status != http.StatusInternalServerError {
				if got := th.requestCount("heartbeat", http.StatusInternalServerError); got != "0" {
					t.Errorf("metric for 500 = %s, want 0", got)
				}
			}
			if errs := th.errorLines(); (len(errs) > 0) != tc.errorLog {
				t.Errorf("ERROR lines %v, want some: %v", errs, tc.errorLog)
			}
			if strings.Contains(th.logs.String(), "authentication failed") {
				t.Errorf("a hang-up counted as a failed authentication:\n%s", th.logs)
			}
		})
	}
}
