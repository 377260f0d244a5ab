package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

func TestRetryAfterServerError(t *testing.T) {
	clk := newClock()
	s := newStore(t)
	rcv := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	w := addWebhook(t, s, KindGeneric, rcv.URL())
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	first := newestEvent(t, s)
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})

	if n := runOnce(t, d); n != 0 {
		t.Fatalf("sent %d on a 500", n)
	}
	ds := deliveries(t, s, w)
	if len(ds) != 1 || ds[0].Attempt != 1 || ds[0].StatusCode != 500 || ds[0].Error != "HTTP 500 Internal Server Error" ||
		ds[0].FirstEventID != first || ds[0].LastEventID != first || ds[0].Events != 1 || !ds[0].At.Equal(t0) {
		t.Fatalf("delivery log after the 500: %+v", ds)
	}
	got := getWebhook(t, s, w)
	if got.Attempt != 1 || !got.FailingSince.Equal(t0) || got.Cursor != w.Cursor {
		t.Fatalf("state after the 500: %+v", got)
	}
	if wait := got.NextAttemptAt.Sub(t0); wait < 9*time.Second || wait > 11*time.Second {
		t.Fatalf("NextAttemptAt = t0+%s, want ≈10s", wait)
	}

	clk.Advance(5 * time.Second) // not yet due
	if n := runOnce(t, d); n != 0 || len(rcv.got()) != 1 {
		t.Fatalf("retried early: sent %d, requests %d", n, len(rcv.got()))
	}
	heartbeat(t, s, "edge-8", "112.161.54.9", clk.Now()) // arrives during the backoff

	clk.Advance(7 * time.Second)
	if n := runOnce(t, d); n != 1 {
		t.Fatalf("retry sent %d", n)
	}
	reqs := rcv.got()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	id1, id2 := reqs[0].header.Get("webhook-id"), reqs[1].header.Get("webhook-id")
	if id1 == "" || id1 != id2 || id1 != fmt.Sprintf("%s:%d-%d", w.ID, first, first) {
		t.Fatalf("webhook-ids %q then %q", id1, id2)
	}
	if string(reqs[0].body) != string(reqs[1].body) {
		t.Fatalf("the retry is not the same batch:\n%s\n%s", reqs[0].body, reqs[1].body)
	}
	for i, r := range reqs {
		if err := Verify(w.Secret, r.header, r.body, clk.Now()); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	if reqs[0].header.Get("webhook-timestamp") == reqs[1].header.Get("webhook-timestamp") {
		t.Fatal("the retry reused the first attempt's timestamp")
	}
	ds = deliveries(t, s, w)
	if len(ds) != 2 || ds[0].Attempt != 2 || ds[0].StatusCode != 200 || ds[0].Error != "" {
		t.Fatalf("delivery log after the retry: %+v", ds)
	}
	got = getWebhook(t, s, w)
	if got.Cursor != first || got.Attempt != 0 || !got.FailingSince.IsZero() {
		t.Fatalf("state after the retry: %+v", got)
	}

	// The event that arrived during the backoff goes out next, as a new batch.
	clk.Advance(DefaultMinInterval)
	if n := runOnce(t, d); n != 1 {
		t.Fatalf("next batch sent %d", n)
	}
	reqs = rcv.got()
	p := payload(t, reqs[2])
	if len(p.Events) != 1 || p.Events[0].Proxy != "edge-8" || reqs[2].header.Get("webhook-id") == id1 {
		t.Fatalf("next batch: %+v id %s", p, reqs[2].header.Get("webhook-id"))
	}
	if got := getWebhook(t, s, w); got.Cursor != newestEvent(t, s) {
		t.Fatalf("cursor %d, newest %d", got.Cursor, newestEvent(t, s))
	}
}

func TestGiveUpAfterGiveUpAfter(t *testing.T) {
	clk := newClock()
	s := newStore(t)
	rcv := newReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	w := addWebhook(t, s, KindGeneric, rcv.URL())
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	ev := newestEvent(t, s)
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})

	runOnce(t, d) // attempt 1 at t0
	clk.Advance(24 * time.Hour)
	runOnce(t, d) // attempt 2: failing for 24 h, still retried
	if got := getWebhook(t, s, w); got.Attempt != 2 || got.Cursor != w.Cursor {
		t.Fatalf("gave up before 24 h: %+v", got)
	}
	clk.Advance(time.Hour + time.Second)
	runOnce(t, d) // attempt 3: past 25 h
	ds := deliveries(t, s, w)
	if len(ds) != 3 || !ds[0].GaveUp || ds[0].Attempt != 3 || ds[0].StatusCode != 503 ||
		!strings.Contains(ds[0].Error, "gave up after 3 attempts") || !strings.Contains(ds[0].Error, "HTTP 503") ||
		ds[0].FirstEventID != ev || ds[1].GaveUp {
		t.Fatalf("delivery log: %+v", ds)
	}
	got := getWebhook(t, s, w)
	if got.Cursor != ev || got.Attempt != 0 || !got.FailingSince.IsZero() {
		t.Fatalf("state after giving up: %+v", got)
	}
	clk.Advance(time.Minute)
	if due, _ := s.DueWebhooks(context.Background(), clk.Now()); len(due) != 0 {
		t.Fatalf("still due: %+v", due)
	}
	// A new event starts a new batch with a fresh 25 h window.
	heartbeat(t, s, "edge-8", "112.161.54.9", clk.Now())
	runOnce(t, d)
	if ds := deliveries(t, s, w); ds[0].Attempt != 1 || ds[0].GaveUp || ds[0].FirstEventID != newestEvent(t, s) {
		t.Fatalf("next batch: %+v", ds[0])
	}
}

func TestOneSweepIsOneMessage(t *testing.T) {
	clk := newClock()
	s := newStore(t)
	for i := range 1000 {
		heartbeat(t, s, fmt.Sprintf("edge-%04d", i+1), "198.51.100.1", t0)
	}
	gen := newReceiver(t, ok200)
	slk := newReceiver(t, ok200)
	wg := addWebhook(t, s, KindGeneric, gen.URL())
	ws := addWebhook(t, s, KindSlack, slk.URL())
	flips, err := s.ExpireProxies(context.Background(), t0.Add(2*time.Minute), 0)
	if err != nil || len(flips) != 1000 {
		t.Fatalf("sweep: %d flips, %v", len(flips), err)
	}
	clk.Advance(2 * time.Minute)
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})
	if n := runOnce(t, d); n != 2 {
		t.Fatalf("sent %d messages, want one per webhook", n)
	}
	clk.Advance(time.Minute)
	if n := runOnce(t, d); n != 0 {
		t.Fatalf("a second pass sent %d", n)
	}
	if len(gen.got()) != 1 || len(slk.got()) != 1 {
		t.Fatalf("requests: generic %d, slack %d", len(gen.got()), len(slk.got()))
	}
	p := payload(t, gen.got()[0])
	if p.Type != TypeEvents || p.Tenant != "acme" || p.Summary["offline"] != 1000 || len(p.Summary) != 1 || len(p.Events) != 1000 ||
		p.Events[0].ID != flips[0].ID || p.Events[999].ID != flips[999].ID || p.Events[0].At != "2026-03-14T09:01:00.000Z" {
		t.Fatalf("payload: type %s summary %v, %d events, first %+v", p.Type, p.Summary, len(p.Events), p.Events[0])
	}
	want := "🔴 1000 proxies offline: edge-0001, edge-0002, edge-0003, edge-0004, edge-0005, edge-0006, edge-0007, edge-0008, edge-0009, edge-0010 and 990 more"
	if got := slackText(t, slk.got()[0]); got != want {
		t.Fatalf("slack digest %q", got)
	}
	for _, w := range []hub.Webhook{wg, ws} {
		ds := deliveries(t, s, w)
		if len(ds) != 1 || ds[0].Events != 1000 || ds[0].FirstEventID != flips[0].ID || ds[0].LastEventID != flips[999].ID {
			t.Fatalf("%s deliveries: %+v", w.Kind, ds)
		}
		if got := getWebhook(t, s, w); got.Cursor != flips[999].ID {
			t.Fatalf("%s cursor %d", w.Kind, got.Cursor)
		}
	}
}

func TestBatchMaxSplitsWithoutLossOrDuplicates(t *testing.T) {
	clk := newClock()
	s := newStore(t)
	for i := range 250 {
		heartbeat(t, s, fmt.Sprintf("edge-%03d", i), "198.51.100.1", t0)
	}
	rcv := newReceiver(t, ok200)
	w := addWebhook(t, s, KindGeneric, rcv.URL())
	if _, err := s.ExpireProxies(context.Background(), t0.Add(2*time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now, BatchMax: 100})
	for range 5 {
		runOnce(t, d)
		clk.Advance(DefaultMinInterval)
	}
	seen := map[int64]bool{}
	var sizes []int
	for _, r := range rcv.got() {
		p := payload(t, r)
		sizes = append(sizes, len(p.Events))
		for _, e := range p.Events {
			if seen[e.ID] {
				t.Fatalf("event %d delivered twice", e.ID)
			}
			seen[e.ID] = true
		}
	}
	if fmt.Sprint(sizes) != "[100 100 50]" || len(seen) != 250 {
		t.Fatalf("batches %v, %d distinct events", sizes, len(seen))
	}
	if got := getWebhook(t, s, w); got.Cursor != newestEvent(t, s) {
		t.Fatalf("cursor %d, newest %d", got.Cursor, newestEvent(t, s))
	}
}

func TestRateLimitGroupsLaterEvents(t *testing.T) {
	clk := newClock()
	s := newStore(t)
	rcv := newReceiver(t, ok200)
	w := addWebhook(t, s, KindSlack, rcv.URL())
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now}) // MinInterval 2 s

	heartbeat(t, s, "edge-1", "198.51.100.1", clk.Now())
	if n := runOnce(t, d); n != 1 {
		t.Fatalf("first event: sent %d", n)
	}
	clk.Advance(500 * time.Millisecond)
	heartbeat(t, s, "edge-2", "198.51.100.2", clk.Now())
	heartbeat(t, s, "edge-3", "198.51.100.3", clk.Now())
	if n := runOnce(t, d); n != 0 {
		t.Fatalf("sent %d within MinInterval", n)
	}
	clk.Advance(time.Second)
	heartbeat(t, s, "edge-3", "198.51.100.4", clk.Now())
	if n := runOnce(t, d); n != 0 {
		t.Fatalf("sent %d within MinInterval", n)
	}
	clk.Advance(500 * time.Millisecond) // 2 s after the first message
	if n := runOnce(t, d); n != 1 {
		t.Fatalf("grouped message: sent %d", n)
	}
	reqs := rcv.got()
	if len(reqs) != 2 {
		t.Fatalf("%d messages", len(reqs))
	}
	if got := slackText(t, reqs[0]); got != "🆕 registered edge-1 [198.51.100.1]" {
		t.Fatalf("first message %q", got)
	}
	want := "🔄 1 proxy changed IP: edge-3\n🆕 2 proxies registered: edge-2, edge-3"
	if got := slackText(t, reqs[1]); got != want {
		t.Fatalf("grouped message %q, want %q", got, want)
	}
	if ds := deliveries(t, s, w); len(ds) != 2 || ds[0].Events != 3 {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestTypesFilter(t *testing.T) {
	clk := newClock()
	s := newStore(t)
	rcv := newReceiver(t, ok200)
	w := addWebhook(t, s, KindGeneric, rcv.URL(), hub.EventOffline)
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})

	heartbeat(t, s, "edge-1", "198.51.100.1", t0)
	heartbeat(t, s, "edge-1", "198.51.100.2", t0.Add(time.Second))
	if n := runOnce(t, d); n != 0 || len(rcv.got()) != 0 {
		t.Fatalf("registered/ip_changed delivered to an offline-only webhook")
	}
	if got := getWebhook(t, s, w); got.Cursor != newestEvent(t, s) {
		t.Fatalf("cursor %d did not move past the filtered events (newest %d)", got.Cursor, newestEvent(t, s))
	}
	if due, _ := s.DueWebhooks(context.Background(), clk.Now()); len(due) != 0 {
		t.Fatal("still due after skipping")
	}
	if _, err := s.ExpireProxies(context.Background(), t0.Add(2*time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	heartbeat(t, s, "edge-1", "198.51.100.3", t0.Add(3*time.Minute)) // ip_changed + online after the offline
	clk.Advance(3 * time.Minute)
	if n := runOnce(t, d); n != 1 {
		t.Fatalf("offline: sent %d", n)
	}
	p := payload(t, rcv.got()[0])
	if len(p.Events) != 1 || p.Events[0].Type != "offline" || len(p.Summary) != 1 {
		t.Fatalf("payload %+v", p)
	}
	// The scan covered the trailing ip_changed and online: the cursor is past them.
	if got := getWebhook(t, s, w); got.Cursor != newestEvent(t, s) {
		t.Fatalf("cursor %d, newest %d", got.Cursor, newestEvent(t, s))
	}
	clk.Advance(time.Minute)
	if n := runOnce(t, d); n != 0 || len(rcv.got()) != 1 {
		t.Fatal("filtered events delivered later")
	}
}

func TestRestartLosesNothing(t *testing.T) {
	clk := newClock()
	s := newStore(t)
	rcv := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	w := addWebhook(t, s, KindGeneric, rcv.URL())
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	heartbeat(t, s, "edge-7", "112.161.54.8", t0.Add(time.Second))
	d1 := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})
	runOnce(t, d1)
	if len(rcv.got()) != 1 {
		t.Fatal("no first attempt")
	}

	// The process dies; another one starts over the same store.
	heartbeat(t, s, "edge-9", "1.2.3.4", t0.Add(2*time.Second))
	d2 := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})
	clk.Advance(15 * time.Second)
	if n := runOnce(t, d2); n != 1 {
		t.Fatalf("after restart: sent %d", n)
	}
	reqs := rcv.got()
	if reqs[1].header.Get("webhook-id") != reqs[0].header.Get("webhook-id") || string(reqs[1].body) != string(reqs[0].body) {
		t.Fatalf("the pending batch changed across the restart:\n%s\n%s", reqs[0].body, reqs[1].body)
	}
	if ds := deliveries(t, s, w); ds[0].Attempt != 2 || ds[0].Events != 2 {
		t.Fatalf("deliveries %+v", ds)
	}
	clk.Advance(DefaultMinInterval)
	runOnce(t, d2)
	if p := payload(t, rcv.got()[2]); len(p.Events) != 1 || p.Events[0].Proxy != "edge-9" {
		t.Fatalf("the event after the failed batch: %+v", p)
	}
}

func TestLostStateSaveIsCaughtUp(t *testing.T) {
	// A hub records a successful delivery, then dies before saving the
	// cursor. The next pass must not send the batch again.
	clk := newClock()
	s := newStore(t)
	rcv := newReceiver(t, ok200)
	w := addWebhook(t, s, KindGeneric, rcv.URL())
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	ev := newestEvent(t, s)
	if _, err := s.RecordDelivery(context.Background(), hub.Delivery{TenantID: "acme", WebhookID: w.ID, At: t0, Attempt: 1,
		StatusCode: 200, FirstEventID: ev, LastEventID: ev, Events: 1}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})
	if n := runOnce(t, d); n != 0 || len(rcv.got()) != 0 {
		t.Fatal("a delivered batch was sent again")
	}
	if got := getWebhook(t, s, w); got.Cursor != ev {
		t.Fatalf("cursor %d, want %d", got.Cursor, ev)
	}
}

func TestSendTest(t *testing.T) {
	clk := newClock()
	s := newStore(t)
	rcv := newReceiver(t, ok200)
	w := addWebhook(t, s, KindGeneric, rcv.URL())
	w.Enabled = false // a test works on a disabled webhook too
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})
	del, err := d.SendTest(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	if !del.Test || del.ID == 0 || del.StatusCode != 200 || del.Error != "" || del.Attempt != 1 || !del.At.Equal(t0) {
		t.Fatalf("delivery %+v", del)
	}
	reqs := rcv.got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	if err := Verify(w.Secret, reqs[0].header, reqs[0].body, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if p := payload(t, reqs[0]); p.Type != TypeTest || p.Tenant != "acme" || len(p.Events) != 0 {
		t.Fatalf("payload %+v", p)
	}
	ds := deliveries(t, s, w)
	if len(ds) != 1 || !ds[0].Test || ds[0].ID != del.ID {
		t.Fatalf("log %+v", ds)
	}
	if got := getWebhook(t, s, w); got.Cursor != w.Cursor || got.Attempt != 0 || !got.NextAttemptAt.IsZero() {
		t.Fatalf("SendTest touched the delivery state: %+v", got)
	}

	// A failing test is reported in the delivery, not as an error; a test
	// entry in the log does not disturb the retry of a real batch.
	bad := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	wb := addWebhook(t, s, KindSlack, bad.URL())
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	runOnce(t, d)
	del, err = d.SendTest(context.Background(), wb)
	if err != nil || del.StatusCode != 500 || del.Error != "HTTP 500 Internal Server Error" || !del.Test {
		t.Fatalf("failing test: %+v %v", del, err)
	}
	clk.Advance(time.Minute)
	runOnce(t, d)
	if ds := deliveries(t, s, wb); len(ds) != 3 || ds[0].Attempt != 2 || ds[0].Test {
		t.Fatalf("log %+v", ds)
	}
	if r := bad.got(); r[0].header.Get("webhook-signature") != "" || slackText(t, r[1]) != "🧪 proxyhub test message for tenant acme: this webhook works." {
		t.Fatalf("slack test message %q", slackText(t, r[1]))
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	clk := newClock()
	s := newStore(t)
	rcv := newReceiver(t, func(n int) int { return 500 + n%2 })
	w := addWebhook(t, s, KindGeneric, rcv.URL())
	heartbeat(t, s, "edge-7", "112.161.54.7", t0)
	logs := &syncBuffer{}
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now, Logger: testLogger(logs), SMTP: SMTPConfig{Password: "pa55word-xyz"}})
	for range 3 {
		runOnce(t, d)
		clk.Advance(time.Hour)
	}
	_, _ = d.SendTest(context.Background(), w)
	out := logs.String()
	if !strings.Contains(out, "webhook delivery failed") {
		t.Fatalf("no failure logged: %s", out)
	}
	sig := rcv.got()[0].header.Get("webhook-signature")
	for _, secret := range []string{w.Secret, strings.TrimPrefix(w.Secret, "whsec_"), sig, strings.TrimPrefix(sig, "v1,"), "pa55word-xyz", rcv.URL()} {
		if strings.Contains(out, secret) {
			t.Fatalf("log contains %q:\n%s", secret, out)
		}
	}
}

// follower is a store whose instance never holds the leadership.
type follower struct{ *memory.Store }

func (follower) Leader(context.Context, string) (bool, error) { return false, nil }

func TestRunDeliversOnlyAsLeader(t *testing.T) {
	s := newStore(t)
	rcv := newReceiver(t, ok200)
	addWebhook(t, s, KindSlack, rcv.URL())
	heartbeat(t, s, "edge-7", "112.161.54.7", time.Now())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- NewDispatcher(follower{s}, Config{AllowPrivate: true, Poll: 10 * time.Millisecond}).Run(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rcv.got()) != 0 {
		t.Fatal("a follower delivered")
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- NewDispatcher(s, Config{AllowPrivate: true, Poll: 10 * time.Millisecond}).Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(rcv.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := rcv.got(); len(got) != 1 || slackText(t, got[0]) != "🆕 registered edge-7 [112.161.54.7]" {
		t.Fatalf("leader delivered %d", len(got))
	}
}

func TestBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 9: 2560 * time.Second, 10: time.Hour, 50: time.Hour} {
		for range 20 {
			got := backoff(attempt)
			if got < want*9/10 || got > want*11/10 {
				t.Fatalf("backoff(%d) = %s, want %s ±10%%", attempt, got, want)
			}
		}
	}
}
