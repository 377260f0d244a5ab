package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// EnvBenchLarge opts in to the benchmarks that build large tables.
const EnvBenchLarge = "PROXYHUB_BENCH_LARGE"

// BenchmarkSweep measures a sweep (ExpireProxies with the hub's batch of
// 1000, repeated until a short batch, as hub.Sweeper.SweepOnce does) over
// a fleet of 1,000,000 online proxies in 10 tenants, 1,000 of which are
// past their deadline, and reports ms/sweep. It logs EXPLAIN (ANALYZE,
// BUFFERS) of the sweep's selection and of its whole statement first (run
// with -v to see them): they read the partial index proxies_due and touch
// about the 1,000 expired rows, not the fleet.
//
// The fleet takes a while to build, so it is opt-in:
//
//	PROXYHUB_BENCH_LARGE=1 bash scripts/test.sh ./internal/store/postgres/ \
//	    -run '^$' -bench BenchmarkSweep -benchtime 20x -v
//
// Between sweeps (off the clock) the flipped proxies are put back online
// and the table vacuumed, as autovacuum would in production.
func BenchmarkSweep(b *testing.B) {
	if os.Getenv(EnvBenchLarge) == "" {
		b.Skip("set " + EnvBenchLarge + "=1 to build a 1,000,000-proxy fleet for this benchmark")
	}
	const fleet, expired, tenants = 1_000_000, 1000, 10
	url := pgtest.URL(b)
	s := open(b, url, postgres.Options{})
	ctx := context.Background()
	var ids []string
	for i := range tenants {
		id := string(rune('a'+i)) + "-tenant"
		ids = append(ids, id)
		mustCreateTenants(b, s, id)
	}
	admin := connect(b, pgtest.AdminURL(b, url))
	start := time.Now()
	// As the administrator: row-level security would keep one statement
	// to one tenant. Proxy g belongs to tenant g % 10; the first 1,000 are
	// past their deadline (t0), the others due an hour later.
	_, err := admin.Exec(ctx, `
		INSERT INTO proxies (tenant_id, name, ip, peer_ip, created_at, last_seen, state, timeout_ms, deadline, check_at)
		SELECT ($1::text[])[g % 10 + 1], 'p-' || lpad(g::text, 8, '0'), '10.0.0.1', '10.0.0.1', ls.at, ls.at, 'online', 80000,
		       ls.at + interval '80 seconds', ls.at + interval '80 seconds'
		  FROM generate_series(1, $2::int) AS g,
		       LATERAL (SELECT CASE WHEN g <= $3::int THEN $4::timestamptz - interval '81 seconds' - g * interval '1 millisecond'
		                            ELSE $4::timestamptz + interval '1 hour' + (g % 60000) * interval '1 millisecond' END AS at) ls`,
		ids, fleet, expired, t0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `VACUUM (ANALYZE) proxies`); err != nil {
		b.Fatal(err)
	}
	b.Logf("fleet of %d proxies (%d expired) built in %v", fleet, expired, time.Since(start).Round(time.Millisecond))
	role := connect(b, url) // the store's role: the plans include the row-level security policies
	b.Logf("EXPLAIN (ANALYZE, BUFFERS) of the sweep's selection (custom plan):\n%s",
		explainSweep(b, role, postgres.SweepSelectSQL, "force_custom_plan", true))
	b.Logf("EXPLAIN (ANALYZE, BUFFERS) of the sweep's selection (generic plan):\n%s",
		explainSweep(b, role, postgres.SweepSelectSQL, "force_generic_plan", true))
	b.Logf("EXPLAIN (ANALYZE, BUFFERS) of the sweep's flip (rolled back):\n%s",
		explainSweep(b, role, postgres.ExpireSQL, "force_custom_plan", true))

	b.ResetTimer()
	for range b.N {
		total := 0
		for {
			evs, err := s.ExpireProxies(ctx, t0, 1000)
			if err != nil {
				b.Fatal(err)
			}
			total += len(evs)
			if len(evs) < 1000 {
				break
			}
		}
		if total != expired {
			b.Fatalf("swept %d proxies, want %d", total, expired)
		}
		b.StopTimer()
		if _, err := admin.Exec(ctx, `UPDATE proxies SET state = 'online' WHERE state = 'offline' AND tenant_id = ANY($1) AND name <= 'p-00001000'`, ids); err != nil {
			b.Fatal(err)
		}
		if _, err := admin.Exec(ctx, `VACUUM proxies`); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/sweep")
}
