package postgres_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// relay is a TCP proxy in front of the database that a test can cut
// (refuse connections: the database is down) or stall (accept and never
// answer: the database is slow).
type relay struct {
	t      *testing.T
	target string
	addr   string

	mu      sync.Mutex
	ln      net.Listener
	stalled bool
	conns   []net.Conn
}

func newRelay(t *testing.T, target string) *relay {
	r := &relay{t: t, target: target}
	r.listen("127.0.0.1:0")
	t.Cleanup(r.cut)
	return r
}

func (r *relay) listen(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.serve(c)
		}
	}()
}

func (r *relay) serve(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns = append(r.conns, c)
	if r.stalled {
		go io.Copy(io.Discard, c) // swallow, never answer
		return
	}
	up, err := net.Dial("tcp", r.target)
	if err != nil {
		c.Close()
		return
	}
	r.conns = append(r.conns, up)
	go func() { io.Copy(up, c); up.Close() }()
	go func() { io.Copy(c, up); c.Close() }()
}

// dropConns breaks every open connection.
func (r *relay) dropConns() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// cut stops listening and breaks every connection: the database is down.
func (r *relay) cut() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	r.mu.Unlock()
	r.dropConns()
}

// stall breaks every connection and accepts new ones without answering.
func (r *relay) stall(on bool) {
	r.mu.Lock()
	r.stalled = on
	r.mu.Unlock()
	r.dropConns()
}

// restore listens again on the same address: the database is back.
func (r *relay) restore() { r.listen(r.addr) }

// url returns dbURL with the relay in place of the server.
func (r *relay) url(dbURL string) string {
	u, _ := url.Parse(dbURL)
	u.Host = r.addr
	return u.String()
}

func TestUnavailable_SlowOrDownDatabaseFailsPromptlyAndRecovers(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	u, _ := url.Parse(dbURL)
	r := newRelay(t, u.Host)
	s := open(t, r.url(dbURL), postgres.Options{})
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

	r.stall(true)
	within("heartbeat, database stalled", 700*time.Millisecond, heartbeat("192.0.2.2"))
	within("read, database stalled", 700*time.Millisecond, read)
	within("ping, database stalled", 700*time.Millisecond, s.Ping)

	r.stall(false)
	r.cut()
	within("heartbeat, database down", 2*time.Second, heartbeat("192.0.2.3"))
	within("read, database down", 2*time.Second, read)

	// Back: the pool reconnects by itself.
	r.restore()
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
