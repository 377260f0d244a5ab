package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/relaytest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// relayURL returns dbURL with the relay in place of the server.
func relayURL(r *relaytest.Relay, dbURL string) string {
	u, _ := url.Parse(dbURL)
	u.Host = r.Addr()
	return u.String()
}

func TestUnavailable_SlowOrDownDatabaseFailsPromptlyAndRecovers(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	u, _ := url.Parse(dbURL)
	r := relaytest.New(t, u.Host)
	s := open(t, relayURL(r, dbURL), postgres.Options{})
	mustCreateTenants(t, s, "acme")
	mustRecord(t, s, hb("acme", "edge-1", "192.0.2.1", t0))

	// within runs op with a deadline, twice (the first may only meet a
	// pooled connection the outage broke, the second has to reach the
	// server), and checks both fail with ErrUnavailable before the deadline
	// has long passed.
	within := func(name string, deadline time.Duration, op func(ctx context.Context) error) {
		t.Helper()
		for range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), deadline)
			start := time.Now()
			err := op(ctx)
			took := time.Since(start)
			cancel()
			t.Logf("%s: %v after %v", name, err, took.Round(time.Millisecond))
			if !errors.Is(err, hub.ErrUnavailable) {
				t.Errorf("%s: %v, want ErrUnavailable", name, err)
			}
			if took > deadline+500*time.Millisecond {
				t.Errorf("%s took %v with a %v deadline", name, took, deadline)
			}
		}
	}
	heartbeat := func(ip string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := s.RecordHeartbeat(ctx, hb("acme", "edge-1", ip, t0.Add(time.Minute)))
			return err
		}
	}
	read := func(ctx context.Context) error {
		_, err := s.GetProxy(ctx, "acme", "edge-1")
		return err
	}

	r.Stall(true)
	within("heartbeat, database stalled", 700*time.Millisecond, heartbeat("192.0.2.2"))
	within("read, database stalled", 700*time.Millisecond, read)
	within("ping, database stalled", 700*time.Millisecond, s.Ping)

	r.Stall(false)
	r.Cut()
	within("heartbeat, database down", 2*time.Second, heartbeat("192.0.2.3"))
	within("read, database down", 2*time.Second, read)

	// Back: the pool reconnects by itself.
	r.Restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := s.RecordHeartbeat(ctx, hb("acme", "edge-1", "192.0.2.4", t0.Add(2*time.Minute)))
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p, err := s.GetProxy(context.Background(), "acme", "edge-1")
	if err != nil || p.IP.String() != "192.0.2.4" {
		t.Fatalf("after recovery: %+v, %v", p, err)
	}
	// Whatever the outage let through, the history chains and matches the
	// proxy's count.
	cs := mustChanges(t, s, "acme", hub.AuditQuery{})
	checkChain(t, cs)
	if int64(len(cs)) != p.IPChanges || cs[0].NewIP.String() != "192.0.2.4" {
		t.Fatalf("history %+v, proxy %+v", cs, p)
	}
}
