package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/api"
)

// fakeHub is a minimal hub with switchable bugs, to show that the run
// catches them.
type fakeHub struct {
	dropEvery    int  // do not record every n-th change
	lieEvery     int  // answer ip_changed false for every n-th change (but record it)
	ignoreXFF    bool // answer the socket address
	mu           sync.Mutex
	ips          map[string]string
	changes      []api.IPChange
	nChanges     int
	requestIDSeq int
}

func (f *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz":
		w.WriteHeader(http.StatusOK)
	case r.URL.Path == "/v1/tenants/lt" && r.Method == http.MethodGet:
		_ = json.NewEncoder(w).Encode(api.Tenant{ID: "lt", MaxProxies: 10000, AutoRegister: true})
	case r.URL.Path == "/v1/tenants/lt/tokens" && r.Method == http.MethodPost:
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(api.TokenCreated{Secret: "phb_fake"})
	case r.URL.Path == "/v1/tenants/lt/ip-changes.ndjson":
		f.mu.Lock()
		defer f.mu.Unlock()
		for i := len(f.changes) - 1; i >= 0; i-- {
			_ = json.NewEncoder(w).Encode(f.changes[i])
		}
	case r.URL.Path == "/proxy_server":
		if r.Header.Get("Authorization") != "Bearer phb_fake" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		name, ip := r.URL.Query().Get("name"), r.Header.Get("X-Forwarded-For")
		if f.ignoreXFF {
			ip = "127.0.0.1"
		}
		f.mu.Lock()
		f.requestIDSeq++
		id := fmt.Sprintf("req-%d", f.requestIDSeq)
		prev, known := f.ips[name]
		f.ips[name] = ip
		ans := api.HeartbeatResult{Success: true, Name: name, RemoteIP: ip, Timestamp: api.NewTime(time.Now())}
		if known && prev != ip {
			f.nChanges++
			if f.dropEvery == 0 || f.nChanges%f.dropEvery != 0 {
				f.changes = append(f.changes, api.IPChange{ID: int64(len(f.changes) + 1), Proxy: name, OldIP: prev, NewIP: ip, At: api.NewTime(time.Now()), RequestID: id})
			}
			if f.lieEvery == 0 || f.nChanges%f.lieEvery != 0 {
				ans.IPChanged, ans.PreviousIP = true, prev
			}
		}
		f.mu.Unlock()
		w.Header().Set("X-Request-Id", id)
		_ = json.NewEncoder(w).Encode(ans)
	default:
		http.NotFound(w, r)
	}
}

func runFake(t *testing.T, f *fakeHub, mode string) *Summary {
	t.Helper()
	f.ips = map[string]string{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	sum, err := Run(context.Background(), Config{
		Hub: srv.URL, JWT: "header.payload.sig", Tenant: "lt", Proxies: 60, Mode: mode, Rate: 600, Duration: 500 * time.Millisecond,
		Period: time.Second, Compress: 4, Rounds: 3, Concurrency: 8, ChangeFraction: 0.25, XFF: true, Verify: true, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestLoadtestRun_AgainstACorrectHubEveryModePasses(t *testing.T) {
	for _, mode := range []string{Steady, Burst, Cron} {
		t.Run(mode, func(t *testing.T) {
			sum := runFake(t, &fakeHub{}, mode)
			if !sum.Passed || sum.IPChanges == 0 || sum.Verify == nil || !sum.Verify.OK || sum.Verify.Recorded != int(sum.IPChanges) {
				t.Fatalf("want a pass with changes: %s %+v", sum.Failure(), sum.Verify)
			}
		})
	}
}

func TestLoadtestRun_VerificationCatchesALostAuditRecord(t *testing.T) {
	sum := runFake(t, &fakeHub{dropEvery: 7}, Burst)
	if sum.Passed || sum.Verify.OK || sum.Verify.Missing == 0 || sum.ErrorTotal != 0 {
		t.Fatalf("a hub that loses audit records must fail verification: %+v", sum.Verify)
	}
}

func TestLoadtestRun_VerificationCatchesAnUnreportedChange(t *testing.T) {
	sum := runFake(t, &fakeHub{lieEvery: 5}, Cron)
	v := sum.Verify
	if sum.Passed || v.OK || v.AnswerMismatches == 0 || v.Unacknowledged == 0 {
		t.Fatalf("a hub that answers ip_changed false for a change must fail: %+v", v)
	}
	if !strings.Contains(strings.Join(v.Details, "\n"), "but the hub answered ip_changed false") {
		t.Fatalf("details: %q", v.Details)
	}
}

func TestLoadtestRun_AnUntrustedForwardedForStopsTheRunWithAHint(t *testing.T) {
	sum := runFake(t, &fakeHub{ignoreXFF: true}, Steady)
	if sum.Passed || !strings.Contains(sum.Aborted, "PROXYHUB_TRUSTED_PROXIES") || sum.Verify != nil {
		t.Fatalf("want an abort naming PROXYHUB_TRUSTED_PROXIES: %q", sum.Aborted)
	}
}

func TestLoadtestRun_ProgressLine(t *testing.T) {
	if got := progressLine("hub", Burst, 50, 200, 1234.4, 2); !strings.Contains(got, "50/200") || !strings.Contains(got, "1234 req/s") || !strings.Contains(got, "errors 2") {
		t.Fatalf("progress line %q", got)
	}
}
