package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/sqlite"
)

// TestFold_InStepsSurvivesACrash: a fold of the heartbeat log writes the
// proxies rows a chunk at a time, with heartbeats between the chunks (the
// writer also advances the fold after each batch). A crash before, during
// or after a fold loses no heartbeat: the store opened afterwards has
// every proxy's last acknowledged heartbeat, and a finished fold leaves in
// the log only what was written after it began.
func TestFold_InStepsSurvivesACrash(t *testing.T) {
	t.Parallel()
	n := 2*sqlite.FoldChunk + sqlite.FoldChunk/2 // three steps
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("edge-%d", i)
	}
	for _, tc := range []struct {
		name  string
		steps int // fold steps run before the crash (0: until the fold ends)
	}{
		{"crash before the fold", -1},
		{"crash in the middle of the fold", 1},
		{"crash after the fold", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ctx := context.Background()
			s, err := sqlite.Open(ctx, dir+"/proxyhub.db", sqlite.Options{BatchWait: -1, LogFlush: -1})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateTenant(ctx, hub.Tenant{ID: "acme", Name: "Acme", OfflineAfter: time.Hour, AutoRegister: true, CreatedAt: t0, UpdatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateToken(ctx, hub.Token{ID: "tok_1", TenantID: "acme", Label: "cron", Hash: "hash-1", CreatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			want := map[string]time.Time{}
			for _, name := range names { // created: whole rows
				beat(t, s, name, "203.0.113.1", t0)
			}
			for _, name := range names { // steady state: the log; every proxy dirty
				beat(t, s, name, "203.0.113.1", t0.Add(time.Second))
				want[name] = t0.Add(time.Second)
			}
			more := tc.steps >= 0
			for step := 1; more && (tc.steps == 0 || step <= tc.steps); step++ {
				if more, err = sqlite.FoldStepForTest(s); err != nil {
					t.Fatalf("fold step %d: %v", step, err)
				}
				// Heartbeats between the steps, of proxies written first
				// and of proxies written last.
				for _, i := range []int{step, n - step} {
					at := t0.Add(time.Duration(10+step) * time.Second)
					beat(t, s, names[i], "203.0.113.1", at)
					want[names[i]] = at
				}
				if step > 3 {
					t.Fatalf("the fold of %d proxies is not over after %d steps of %d", n, step, sqlite.FoldChunk)
				}
			}
			if tc.steps == 0 {
				rows, err := sqlite.LogRowsForTest(s)
				if err != nil {
					t.Fatal(err)
				}
				if rows > 6 { // at most the heartbeats after each step
					t.Errorf("heartbeat log after the fold: %d rows, want at most the 6 written during it", rows)
				}
			}
			if err := sqlite.CrashForTest(s); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir, sqlite.Options{})
			for name, at := range want {
				p, err := s.GetProxy(ctx, "acme", name)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !p.LastSeen.Equal(at) {
					t.Errorf("%s: last seen %v after reopening, want %v", name, p.LastSeen, at)
				}
			}
			rows, err := sqlite.LogRowsForTest(s)
			if err != nil {
				t.Fatal(err)
			}
			if rows != 0 {
				t.Errorf("heartbeat log after open: %d rows, want 0 (folded)", rows)
			}
		})
	}
}
