package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
	"github.com/proxyhub/proxyhub/internal/store/storetest"
	"github.com/proxyhub/proxyhub/migrations"
)

func TestOpen_ErrorNamesServerButNeverThePassword(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, url   string
		mention     []string
		unavailable bool
	}{
		{"unreachable port", "postgres://bob:hunter2@127.0.0.1:1/fleet?sslmode=disable&connect_timeout=2",
			[]string{"127.0.0.1", ":1", "fleet", "refused"}, true},
		{"unreachable, key=value", "host=127.0.0.1 port=1 user=bob password=hunter2 dbname=fleet sslmode=disable connect_timeout=2",
			[]string{"127.0.0.1", ":1", "fleet"}, true},
		{"password with escapes", "postgres://bob:hunter2%40x@127.0.0.1:1/fleet?sslmode=disable&connect_timeout=2",
			[]string{"127.0.0.1", "fleet"}, true},
		{"malformed port", "postgres://bob:hunter2@127.0.0.1:notaport/fleet", []string{"127.0.0.1", "fleet", "invalid"}, false},
		{"malformed host", "postgres://bob:hunter2@[::1/fleet", []string{"invalid"}, false},
		{"unknown parameter value", "postgres://bob:hunter2@127.0.0.1:5432/fleet?sslmode=sometimes", []string{"127.0.0.1", "sslmode"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := postgres.Open(ctx, tc.url, postgres.Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "hunter2") {
				t.Fatalf("error reveals the password: %s", msg)
			}
			for _, m := range tc.mention {
				if !strings.Contains(msg, m) {
					t.Errorf("error %q does not mention %q", msg, m)
				}
			}
			if got := errors.Is(err, hub.ErrUnavailable); got != tc.unavailable {
				t.Errorf("errors.Is(err, ErrUnavailable) = %v, want %v: %s", got, tc.unavailable, msg)
			}
			for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), "hunter2") {
					t.Fatalf("a wrapped error reveals the password: %s", e)
				}
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestMigrate_ConcurrentOpensMigrateOnceAndAgainIsANoOp(t *testing.T) {
	t.Parallel()
	url := pgtest.EmptyURL(t)
	const hubs = 4
	stores := make([]*postgres.Store, hubs)
	errs := make([]error, hubs)
	var wg sync.WaitGroup
	for i := range hubs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			stores[i], errs[i] = postgres.Open(ctx, url, postgres.Options{AutoMigrate: true})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("hub %d: Open: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	files, _ := fs.Glob(migrations.FS, "*.sql")
	ctx := context.Background()
	for range 2 {
		v, err := postgres.SchemaVersion(ctx, stores[0].Pool())
		if err != nil || int(v) != len(files) {
			t.Fatalf("schema version %d (%v), want %d", v, err, len(files))
		}
		if err := postgres.Migrate(ctx, stores[1].Pool()); err != nil {
			t.Fatalf("Migrate on an up-to-date database: %v", err)
		}
	}
	mustCreateTenants(t, stores[2], "acme")
	mustRecord(t, stores[3], hb("acme", "edge-1", "192.0.2.1", t0))
	if p, err := stores[0].GetProxy(ctx, "acme", "edge-1"); err != nil || p.IP != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("after migrating: %+v, %v", p, err)
	}
}

func TestOpen_ReopeningKeepsEverything(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ctx := context.Background()
	first, err := postgres.Open(ctx, url, postgres.Options{AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	seed(t, first)
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := first.RecordHeartbeat(ctx, hb("acme", "edge-1", "192.0.2.3", t0)); !errors.Is(err, hub.ErrUnavailable) {
		t.Fatalf("heartbeat on a closed store: %v, want ErrUnavailable", err)
	}

	s := open(t, url, postgres.Options{AutoMigrate: true})
	if ts, err := s.ListTenants(ctx); err != nil || len(ts) != 2 {
		t.Fatalf("tenants after reopening: %+v, %v", ts, err)
	}
	if tok, err := s.TokenByHash(ctx, "hash-acme"); err != nil || tok.ID != "tok_acme" {
		t.Fatalf("token after reopening: %+v, %v", tok, err)
	}
	if c, err := s.CredentialByID(ctx, "phc_globex"); err != nil || c.TenantID != "globex" {
		t.Fatalf("credential after reopening: %+v, %v", c, err)
	}
	if d, err := storetest.CollectDenied(ctx, s, "acme", hub.AuditQuery{}); err != nil || len(d) != 1 {
		t.Fatalf("denied after reopening: %+v, %v", d, err)
	}
	p, err := s.GetProxy(ctx, "acme", "edge-1")
	if err != nil || p.IP.String() != "192.0.2.2" || p.IPChanges != 1 || !p.CreatedAt.Equal(t0) {
		t.Fatalf("proxy after reopening: %+v, %v", p, err)
	}
	// Change detection continues from the stored state.
	res := mustRecord(t, s, hb("acme", "edge-1", "192.0.2.3", t0.Add(2*time.Minute)))
	if !res.Changed || res.PreviousIP.String() != "192.0.2.2" || res.Proxy.IPChanges != 2 {
		t.Fatalf("heartbeat after reopening: %+v", res)
	}
	cs := mustChanges(t, s, "acme", hub.AuditQuery{})
	if len(cs) != 2 {
		t.Fatalf("history after reopening: %+v", cs)
	}
	checkChain(t, cs)
}
