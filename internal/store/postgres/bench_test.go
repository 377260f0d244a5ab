package postgres_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// BenchmarkRecordHeartbeat measures the group-commit write path with many
// concurrent callers (SetParallelism), each beating proxies of its own with
// the fleet's token, and reports heartbeats/s:
//
//   - steady: each caller beats its 20 proxies (registered before the clock
//     starts) in turn, the IP changing on one pass in 16, every heartbeat
//     at the same time t0 (so last_seen and the deadline never move);
//   - steady-clock: the same, with each pass one second later than the
//     one before, as in production: every heartbeat moves last_seen and
//     the deadline (which the partial index proxies_due covers, so these
//     updates are not HOT);
//   - register: every heartbeat is a new proxy's first (a fleet rollout).
func BenchmarkRecordHeartbeat(b *testing.B) {
	b.Run("steady", func(b *testing.B) { benchmarkSteady(b, false) })
	b.Run("steady-clock", func(b *testing.B) { benchmarkSteady(b, true) })
	b.Run("register", benchmarkRegister)
}

func benchmarkSteady(b *testing.B, clock bool) {
	s := open(b, pgtest.URL(b), postgres.Options{})
	mustCreateTenants(b, s, "acme")
	ctx := context.Background()
	if err := s.CreateToken(ctx, hub.Token{ID: "tok_fleet", TenantID: "acme", Label: "fleet", Hash: "h", CreatedAt: t0}); err != nil {
		b.Fatal(err)
	}
	const parallelism, proxies = 128, 20
	callers := int64(parallelism * runtime.GOMAXPROCS(0))
	beat := func(c int64, i int) hub.Heartbeat {
		pass := i / proxies
		at := t0
		if clock {
			at = t0.Add(time.Duration(pass) * time.Second)
		}
		h := hub.Heartbeat{
			TenantID:  "acme",
			Name:      fmt.Sprintf("c%d-p%d", c, i%proxies),
			IP:        netip.AddrFrom4([4]byte{10, byte(c), byte(c >> 8), byte(pass / 16 % 2)}),
			At:        at,
			TokenID:   "tok_fleet",
			RequestID: "bench",
			MayCreate: true,
		}
		h.PeerIP = h.IP
		return h
	}
	// Register every proxy first: the benchmark measures the steady state.
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range proxies {
				if _, err := s.RecordHeartbeat(ctx, beat(c+1, i)); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := next.Add(1)
		for i := proxies; pb.Next(); i++ {
			if _, err := s.RecordHeartbeat(ctx, beat(c, i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "heartbeats/s")
}

func benchmarkRegister(b *testing.B) {
	s := open(b, pgtest.URL(b), postgres.Options{})
	ctx := context.Background()
	mustCreateTenants(b, s, "acme")
	if err := s.CreateToken(ctx, hub.Token{ID: "tok_fleet", TenantID: "acme", Label: "fleet", Hash: "h", CreatedAt: t0}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(128)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			ip := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
			h := hub.Heartbeat{TenantID: "acme", Name: fmt.Sprintf("new-%d", n), IP: ip, PeerIP: ip, At: t0,
				TokenID: "tok_fleet", RequestID: "bench", MayCreate: true, MaxProxies: 1 << 30}
			if _, err := s.RecordHeartbeat(ctx, h); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "heartbeats/s")
}
