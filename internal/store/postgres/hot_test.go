package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// A heartbeat to a known, online proxy changes no indexed column, so
// PostgreSQL applies it as a HOT update (no index writes): the sweeper's
// index is on check_at, which heartbeats leave alone (migrations/011).
func TestBeat_SteadyHeartbeatsAreHOTUpdates(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s, err := postgres.Open(context.Background(), url, postgres.Options{BatchWait: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateTenants(t, s, "acme")
	ctx := context.Background()
	// Ten proxies share one page, which has room for all the new versions
	// below: whether a HOT update happens does not then depend on when
	// PostgreSQL prunes the old ones (which a busy server may put off).
	const proxies, rounds = 10, 5
	for r := range rounds {
		for p := range proxies {
			if _, err := s.RecordHeartbeat(ctx, hb("acme", fmt.Sprintf("edge-%d", p), "192.0.2.1", t0.Add(time.Duration(r)*time.Second))); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Close() // its sessions end, which flushes their statistics

	admin := connect(t, pgtest.AdminURL(t, url))
	var upd, hot int64
	for range 50 {
		if err := admin.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'proxies'`).Scan(&upd, &hot); err != nil {
			t.Fatal(err)
		}
		if upd >= proxies*(rounds-1) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if upd < proxies*(rounds-1) {
		t.Fatalf("%d updates of proxies counted, want at least %d", upd, proxies*(rounds-1))
	}
	// Some updates may not find room on their page; nearly all must.
	t.Logf("%d of %d updates of proxies were HOT", hot, upd)
	if hot < upd*9/10 {
		t.Fatalf("%d of %d heartbeat updates were HOT, want at least 90 %%", hot, upd)
	}
}

// The sweeper visits a proxy at check_at: if heartbeats moved its
// deadline on, it moves check_at to the deadline and flips nothing; at
// the deadline itself the proxy is flipped, with the deadline as its time.
func TestSweep_MovesCheckAtToTheDeadlineHeartbeatsSet(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{})
	mustCreateTenants(t, s, "acme") // timeout 80 s
	ctx := context.Background()
	record := func(at time.Duration) {
		t.Helper()
		if _, err := s.RecordHeartbeat(ctx, hb("acme", "edge-1", "192.0.2.1", t0.Add(at))); err != nil {
			t.Fatal(err)
		}
	}
	record(0)
	record(60 * time.Second) // deadline t0+140s; check_at still t0+80s
	if next, err := s.NextDeadline(ctx); err != nil || !next.Equal(t0.Add(80*time.Second)) {
		t.Fatalf("NextDeadline = %v, %v; want check_at t0+80s", next, err)
	}
	evs, err := s.ExpireProxies(ctx, t0.Add(100*time.Second), 0)
	if err != nil || len(evs) != 0 {
		t.Fatalf("sweep at t0+100s: %v, %v; want no flip", evs, err)
	}
	if next, err := s.NextDeadline(ctx); err != nil || !next.Equal(t0.Add(140*time.Second)) {
		t.Fatalf("after the visit NextDeadline = %v, %v; want the deadline t0+140s", next, err)
	}
	// A limited sweep goes past visits that flip nothing.
	record(120 * time.Second) // deadline t0+200s, check_at t0+140s
	if _, err := s.RecordHeartbeat(ctx, hb("acme", "edge-2", "192.0.2.2", t0)); err != nil {
		t.Fatal(err) // deadline and check_at t0+80s
	}
	evs, err = s.ExpireProxies(ctx, t0.Add(150*time.Second), 1)
	if err != nil || len(evs) != 1 || evs[0].Proxy != "edge-2" || !evs[0].At.Equal(t0.Add(80*time.Second)) {
		t.Fatalf("limited sweep at t0+150s: %+v, %v; want edge-2 offline at t0+80s", evs, err)
	}
	if evs, err = s.ExpireProxies(ctx, t0.Add(200*time.Second), 0); err != nil || len(evs) != 0 {
		t.Fatalf("at the deadline itself: %+v, %v; want still online", evs, err)
	}
	evs, err = s.ExpireProxies(ctx, t0.Add(200*time.Second+time.Millisecond), 0)
	if err != nil || len(evs) != 1 || evs[0].Type != hub.EventOffline || !evs[0].At.Equal(t0.Add(200*time.Second)) {
		t.Fatalf("after the deadline: %+v, %v; want edge-1 offline at t0+200s", evs, err)
	}
	if next, err := s.NextDeadline(ctx); err != nil || !next.IsZero() {
		t.Fatalf("nothing online: NextDeadline = %v, %v", next, err)
	}
}
