package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

func TestSetHeaders(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		limit     string
		rate      Rate
		result    Result
		policy    string
		ratelimit string
		retry     string // "" = absent
	}{
		{
			name: "allowed", limit: "heartbeat", rate: Rate{6, time.Minute},
			result: Result{Allowed: true, Limit: 6, Remaining: 5, Reset: now.Add(42 * time.Second)},
			policy: `"heartbeat";q=6;w=60`, ratelimit: `"heartbeat";r=5;t=42`,
		},
		{
			name: "allowed, fraction rounded up", limit: "heartbeat", rate: Rate{6, time.Minute},
			result: Result{Allowed: true, Limit: 6, Remaining: 0, Reset: now.Add(41*time.Second + time.Millisecond)},
			policy: `"heartbeat";q=6;w=60`, ratelimit: `"heartbeat";r=0;t=42`,
		},
		{
			name: "denied", limit: "heartbeat", rate: Rate{6, time.Minute},
			result: Result{Allowed: false, Limit: 6, Remaining: 0, Reset: now.Add(41200 * time.Millisecond)},
			policy: `"heartbeat";q=6;w=60`, ratelimit: `"heartbeat";r=0;t=42`, retry: "42",
		},
		{
			name: "denied, full window left", limit: "auth-fail", rate: Rate{10, 15 * time.Minute},
			result: Result{Allowed: false, Limit: 10, Reset: now.Add(15 * time.Minute)},
			policy: `"auth-fail";q=10;w=900`, ratelimit: `"auth-fail";r=0;t=900`, retry: "900",
		},
		{
			name: "denied, reset due now: Retry-After is at least 1", limit: "heartbeat", rate: Rate{6, time.Minute},
			result: Result{Allowed: false, Limit: 6, Reset: now},
			policy: `"heartbeat";q=6;w=60`, ratelimit: `"heartbeat";r=0;t=0`, retry: "1",
		},
		{
			name: "denied, reset in the past", limit: "heartbeat", rate: Rate{6, time.Minute},
			result: Result{Allowed: false, Limit: 6, Reset: now.Add(-3 * time.Second)},
			policy: `"heartbeat";q=6;w=60`, ratelimit: `"heartbeat";r=0;t=0`, retry: "1",
		},
		{
			name: "denied, reset beyond the window is clamped", limit: "heartbeat", rate: Rate{6, time.Minute},
			result: Result{Allowed: false, Limit: 6, Reset: now.Add(time.Hour)},
			policy: `"heartbeat";q=6;w=60`, ratelimit: `"heartbeat";r=0;t=60`, retry: "60",
		},
		{
			name: "denied result never reports tokens left", limit: "heartbeat", rate: Rate{6, time.Minute},
			result: Result{Allowed: false, Limit: 6, Remaining: 4, Reset: now.Add(time.Second)},
			policy: `"heartbeat";q=6;w=60`, ratelimit: `"heartbeat";r=0;t=1`, retry: "1",
		},
		{
			name: "sub-second window rounds up to 1s", limit: "burst", rate: Rate{3, 200 * time.Millisecond},
			result: Result{Allowed: false, Limit: 3, Reset: now.Add(150 * time.Millisecond)},
			policy: `"burst";q=3;w=1`, ratelimit: `"burst";r=0;t=1`, retry: "1",
		},
		{
			name: "zero Result", limit: "heartbeat", rate: Rate{6, time.Minute},
			result: Result{},
			policy: `"heartbeat";q=6;w=60`, ratelimit: `"heartbeat";r=0;t=0`, retry: "1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTest(t, tc.limit, tc.rate)
			h := http.Header{}
			l.SetHeaders(h, tc.result, now)
			want := map[string][]string{
				"RateLimit-Policy": {tc.policy},
				"RateLimit":        {tc.ratelimit},
			}
			if tc.retry != "" {
				want["Retry-After"] = []string{tc.retry}
			}
			if len(h) != len(want) {
				t.Errorf("headers %v, want exactly %v", h, want)
			}
			for k, v := range want {
				if got := h.Values(k); len(got) != 1 || got[0] != v[0] {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestSetHeadersFromTake checks the headers of real Take results: Retry-After
// is between 1 and the interval in seconds, rounded up.
func TestSetHeadersFromTake(t *testing.T) {
	for _, r := range []Rate{{2, time.Minute}, {2, 1500 * time.Millisecond}, {1, 200 * time.Millisecond}} {
		t.Run(r.String(), func(t *testing.T) {
			l := newTest(t, "heartbeat", r)
			res := exhaust(t, l, "k")
			h := http.Header{}
			l.SetHeaders(h, res, time.Now())
			window := int(ceilSeconds(r.Interval))
			retry, err := strconv.Atoi(h.Get("Retry-After"))
			if err != nil || retry < 1 || retry > window {
				t.Fatalf("Retry-After %q, want 1..%d", h.Get("Retry-After"), window)
			}
			if want := `"heartbeat";q=` + strconv.FormatUint(r.Tokens, 10) + ";w=" + strconv.Itoa(window); h.Get("RateLimit-Policy") != want {
				t.Fatalf("RateLimit-Policy %q, want %q", h.Get("RateLimit-Policy"), want)
			}
			if want := `"heartbeat";r=0;t=` + strconv.Itoa(retry); h.Get("RateLimit") != want {
				t.Fatalf("RateLimit %q, want %q", h.Get("RateLimit"), want)
			}
		})
	}
}

// TestSetHeadersSeveralLimits checks that limits share the list fields, that
// a limiter replaces its own member, and that the longest Retry-After wins.
func TestSetHeadersSeveralLimits(t *testing.T) {
	now := time.Now()
	hb := newTest(t, "heartbeat", Rate{6, time.Minute})
	auth := newTest(t, "auth-fail", Rate{10, 15 * time.Minute})

	rec := httptest.NewRecorder()
	h := rec.Header()
	hb.SetHeaders(h, Result{Allowed: true, Limit: 6, Remaining: 5, Reset: now.Add(50 * time.Second)}, now)
	hb.SetHeaders(h, Result{Allowed: false, Limit: 6, Reset: now.Add(30 * time.Second)}, now) // replaces
	auth.SetHeaders(h, Result{Allowed: false, Limit: 10, Reset: now.Add(600 * time.Second)}, now)
	hb.SetHeaders(h, Result{Allowed: false, Limit: 6, Reset: now.Add(20 * time.Second)}, now) // replaces, shorter Retry-After

	rec.WriteHeader(http.StatusTooManyRequests)
	got := rec.Result().Header
	check := func(field string, want ...string) {
		t.Helper()
		vals := got.Values(field)
		if len(vals) != len(want) {
			t.Fatalf("%s = %q, want %q", field, vals, want)
		}
		for i := range want {
			if vals[i] != want[i] {
				t.Fatalf("%s = %q, want %q", field, vals, want)
			}
		}
	}
	check("RateLimit-Policy", `"auth-fail";q=10;w=900`, `"heartbeat";q=6;w=60`)
	check("RateLimit", `"auth-fail";r=0;t=600`, `"heartbeat";r=0;t=20`)
	check("Retry-After", "600")
}
