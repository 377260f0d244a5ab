package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/sqlite"
)

// TestSteady_AnsweredHeartbeatsReachTheDisk: with synchronous NORMAL a
// steady-state heartbeat is answered before its log row is written, and
// the row follows within LogFlush, or with the next transaction, whichever
// comes first; a heartbeat that changes an IP or registers a proxy is
// answered only after its COMMIT. Each case crashes the store right after
// its last answer and reopens it.
func TestSteady_AnsweredHeartbeatsReachTheDisk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts sqlite.Options
		// then runs after a steady-state heartbeat of edge-1 at t0+1s and
		// returns what edge-1 and edge-2 must show after the crash.
		then func(t *testing.T, s *sqlite.Store) (edge1, edge2 time.Time)
	}{
		{"written within LogFlush", sqlite.Options{LogFlush: time.Millisecond}, func(t *testing.T, s *sqlite.Store) (time.Time, time.Time) {
			time.Sleep(100 * time.Millisecond)
			return t0.Add(time.Second), t0
		}},
		{"written with the next transaction", sqlite.Options{LogFlush: time.Hour}, func(t *testing.T, s *sqlite.Store) (time.Time, time.Time) {
			if res := beat(t, s, "edge-2", "203.0.113.9", t0.Add(2*time.Second)); !res.Changed {
				t.Fatalf("edge-2 moved: %+v, want an IP change", res)
			}
			return t0.Add(time.Second), t0.Add(2 * time.Second)
		}},
		{"every heartbeat after its COMMIT (LogFlush negative)", sqlite.Options{LogFlush: -1}, func(t *testing.T, s *sqlite.Store) (time.Time, time.Time) {
			return t0.Add(time.Second), t0
		}},
		{"every heartbeat after its COMMIT (FULL)", sqlite.Options{Synchronous: "FULL", LogFlush: time.Hour}, func(t *testing.T, s *sqlite.Store) (time.Time, time.Time) {
			return t0.Add(time.Second), t0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := sqlite.Open(ctx, dir+"/proxyhub.db", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateTenant(ctx, hub.Tenant{ID: "acme", Name: "Acme", OfflineAfter: time.Hour, AutoRegister: true, CreatedAt: t0, UpdatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, hub.Token{ID: "tok_1", TenantID: "acme", Label: "cron", Hash: "hash-1", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			beat(t, s, "edge-1", "203.0.113.1", t0) // registered: after COMMIT
			beat(t, s, "edge-2", "203.0.113.2", t0)
			if res := beat(t, s, "edge-1", "203.0.113.1", t0.Add(time.Second)); res.Changed || res.Created {
				t.Fatalf("steady-state heartbeat: %+v", res)
			}
			if p, err := s.GetProxy(ctx, "acme", "edge-1"); err != nil || !p.LastSeen.Equal(t0.Add(time.Second)) {
				t.Fatalf("edge-1 right after its answer: %+v, %v; want last seen %v", p, err, t0.Add(time.Second))
			}
			want1, want2 := tc.then(t, s)
			if err := sqlite.CrashForTest(s); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir, tc.opts)
			for name, want := range map[string]time.Time{"edge-1": want1, "edge-2": want2} {
				p, err := s.GetProxy(ctx, "acme", name)
				if err != nil {
					t.Fatal(err)
				}
				if !p.LastSeen.Equal(want) {
					t.Errorf("%s after the crash: last seen %v, want %v", name, p.LastSeen, want)
				}
			}
		})
	}
}
