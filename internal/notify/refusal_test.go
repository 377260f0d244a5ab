package notify

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestReceiverAnswers: what a receiver's answer does to the batch: a
// Retry-After longer than the backoff postpones the retry to it, 408 and
// 429 are retried, and any other 4xx gives the batch up at once (the
// cursor moves past it; the next event goes out normally).
func TestReceiverAnswers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		gaveUp     bool
		wait       time.Duration // after the failure: ≈ this before the retry
	}{
		{"503 with Retry-After seconds", http.StatusServiceUnavailable, "120", false, 120 * time.Second},
		{"429 with an HTTP date", http.StatusTooManyRequests, t0.Add(300 * time.Second).Format(http.TimeFormat), false, 300 * time.Second},
		{"429 with a Retry-After shorter than the backoff", http.StatusTooManyRequests, "1", false, BackoffBase},
		{"408", http.StatusRequestTimeout, "", false, BackoffBase},
		{"400", http.StatusBadRequest, "", true, 0},
		{"404 (a deleted webhook)", http.StatusNotFound, "", true, 0},
		{"410", http.StatusGone, "", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			s := newStore(t)
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				if calls == 1 {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(tc.status)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(srv.Close)
			w := addWebhook(t, s, KindSlack, srv.URL+"/hook")
			heartbeat(t, s, "edge-1", "192.0.2.1", t0)
			d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})
			runOnce(t, d)
			ds := deliveries(t, s, w)
			got := getWebhook(t, s, w)
			if len(ds) != 1 || ds[0].StatusCode != tc.status || ds[0].GaveUp != tc.gaveUp {
				t.Fatalf("delivery log: %+v", ds)
			}
			if tc.gaveUp {
				if got.Cursor != newestEvent(t, s) || got.Attempt != 0 || !strings.Contains(ds[0].Error, "refused") {
					t.Fatalf("a permanent refusal was not given up: state %+v, error %q", got, ds[0].Error)
				}
				heartbeat(t, s, "edge-2", "192.0.2.2", t0.Add(time.Second))
				clk.Advance(DefaultMinInterval)
				if n := runOnce(t, d); n != 1 || calls != 2 {
					t.Fatalf("the next event after a give-up: sent %d, calls %d", n, calls)
				}
				return
			}
			wait := got.NextAttemptAt.Sub(t0)
			if wait < tc.wait*9/10 || wait > tc.wait*11/10 {
				t.Fatalf("next attempt in %v, want ≈%v", wait, tc.wait)
			}
			clk.Advance(wait - time.Second)
			if runOnce(t, d); calls != 1 {
				t.Fatal("retried before the wait")
			}
			clk.Advance(2 * time.Second)
			if n := runOnce(t, d); n != 1 || calls != 2 {
				t.Fatalf("the retry: sent %d, calls %d", n, calls)
			}
		})
	}
}

// TestSendTestShowsTheAnswer: the test operation reports the start of the
// receiver's answer for a public destination, and none when private
// destinations are allowed (it could be an internal service's data).
func TestSendTestShowsTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("invalid_payload\n" + strings.Repeat("x", 500)))
	}))
	t.Cleanup(srv.Close)
	for _, allowPrivate := range []bool{false, true} {
		s := newStore(t)
		w := addWebhook(t, s, KindSlack, srv.URL+"/hook")
		// The test server is on loopback: the guarded client would refuse
		// it, so the public case uses a plain client (as a public receiver).
		d := NewDispatcher(s, Config{AllowPrivate: allowPrivate, HTTPClient: srv.Client(), Now: newClock().Now})
		del, err := d.SendTest(t.Context(), w)
		if err != nil {
			t.Fatal(err)
		}
		if del.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", del.StatusCode)
		}
		if allowPrivate && del.Response != "" {
			t.Errorf("private destinations allowed: the answer %q is shown", del.Response)
		}
		if !allowPrivate && (!strings.HasPrefix(del.Response, "invalid_payload x") || utf8.RuneCountInString(del.Response) > responseSnippetLen) {
			t.Errorf("answer shown: %q (%d chars)", del.Response, len(del.Response))
		}
	}
}
