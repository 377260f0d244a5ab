package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

func events(t testing.TB, s hub.LivenessStore, tenantID string, q hub.EventQuery) []hub.Event {
	t.Helper()
	var out []hub.Event
	if err := s.ScanEvents(context.Background(), tenantID, q, func(e hub.Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("ScanEvents(%s): %v", tenantID, err)
	}
	return out
}

// TestEvents_ReaderFollowingByIDNeverMissesOne: while heartbeats (two
// hubs, several writers each), sweepers and denied records append events
// of three tenants at once, one reader per tenant follows its stream with
// "after the last id I saw", as the webhook dispatcher and SSE do. Each
// reader must see every event of its tenant exactly once, in id order: an
// event committed after a higher id was visible would be skipped.
func TestEvents_ReaderFollowingByIDNeverMissesOne(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	hubs := []*postgres.Store{
		open(t, url, postgres.Options{Writers: 4, BatchWait: time.Millisecond}),
		open(t, url, postgres.Options{Writers: 4, BatchWait: 500 * time.Microsecond}),
	}
	tenants := []string{"acme", "globex", "initech"}
	mustCreateTenants(t, hubs[0], tenants...)
	ctx := context.Background()

	const writers, beats = 8, 40
	var writing sync.WaitGroup
	var stop, stopReading atomic.Bool
	for w := range writers {
		writing.Go(func() {
			for i := range beats {
				// Every heartbeat changes its proxy's IP (an ip_changed
				// event) and, when a sweep flipped it, brings it back (online).
				h := hb(tenants[(w+i)%len(tenants)], fmt.Sprintf("edge-%d", w), fmt.Sprintf("192.0.2.%d", i%2), t0.Add(time.Duration(i)*time.Second))
				if _, err := hubs[w%2].RecordHeartbeat(ctx, h); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var background sync.WaitGroup
	for h := range hubs { // sweepers on both hubs: offline events across tenants
		background.Go(func() {
			for !stop.Load() {
				if _, err := hubs[h].ExpireProxies(ctx, t0.Add(time.Hour), 7); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	background.Go(func() {
		for i := 0; !stop.Load(); i++ {
			d := hub.Denied{TenantID: tenants[i%len(tenants)], Proxy: "edge-x", IP: netip.MustParseAddr("198.51.100.1"), At: t0, Reason: "test"}
			if _, err := hubs[i%2].RecordDenied(ctx, d); err != nil {
				t.Error(err)
				return
			}
		}
	})

	seen := make([][]int64, len(tenants))
	var reading sync.WaitGroup
	for i, tenant := range tenants {
		reading.Go(func() {
			var last int64
			poll := func() {
				for _, e := range events(t, hubs[i%2], tenant, hub.EventQuery{Ascending: true, AfterID: last}) {
					if e.ID <= last {
						t.Errorf("%s: event %d after %d", tenant, e.ID, last)
					}
					last = e.ID
					seen[i] = append(seen[i], e.ID)
				}
			}
			for !stopReading.Load() {
				poll()
			}
			poll() // everything is committed now
		})
	}
	writing.Wait()
	stop.Store(true)
	background.Wait()
	stopReading.Store(true)
	reading.Wait()

	for i, tenant := range tenants {
		all := events(t, hubs[0], tenant, hub.EventQuery{Ascending: true})
		if len(all) < writers*beats/len(tenants) {
			t.Fatalf("%s: only %d events", tenant, len(all))
		}
		if len(seen[i]) != len(all) {
			t.Errorf("%s: the reader saw %d events of %d", tenant, len(seen[i]), len(all))
		}
		for j, e := range all {
			if j >= len(seen[i]) || seen[i][j] != e.ID {
				t.Fatalf("%s: the reader missed event %d (%s)", tenant, e.ID, e.Type)
			}
		}
	}
}

// TestLiveness_SweepsRacingHeartbeatsAlternate: sweepers flip proxies that
// heartbeats keep bringing back. Whatever the interleaving, each proxy's
// stream alternates offline, online, offline…, every CameOnline a heartbeat
// reported has its online event, and the final state matches the stream.
func TestLiveness_SweepsRacingHeartbeatsAlternate(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{Writers: 3})
	mustCreateTenants(t, s, "acme")
	ctx := context.Background()
	const proxies, beats = 10, 30
	var cameOnline atomic.Int64
	var wg sync.WaitGroup
	var stop atomic.Bool
	for p := range proxies {
		wg.Go(func() {
			for i := range beats {
				res, err := s.RecordHeartbeat(ctx, hb("acme", fmt.Sprintf("edge-%d", p), "192.0.2.1", t0.Add(time.Duration(i)*time.Millisecond)))
				if err != nil {
					t.Error(err)
					return
				}
				if res.CameOnline {
					cameOnline.Add(1)
				}
			}
		})
	}
	var sweeping sync.WaitGroup
	for range 2 {
		sweeping.Go(func() {
			for !stop.Load() {
				if _, err := s.ExpireProxies(ctx, t0.Add(time.Hour), 3); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	sweeping.Wait()
	online := 0
	for p := range proxies {
		name := fmt.Sprintf("edge-%d", p)
		evs := events(t, s, "acme", hub.EventQuery{Ascending: true, Proxy: name})
		state := hub.StateOnline
		for i, e := range evs {
			switch {
			case i == 0 && e.Type != hub.EventRegistered:
				t.Fatalf("%s: first event %s", name, e.Type)
			case e.Type == hub.EventOffline && state == hub.StateOffline,
				e.Type == hub.EventOnline && state == hub.StateOnline:
				t.Fatalf("%s: %s event while %s (event %d of %d)", name, e.Type, state, i, len(evs))
			case e.Type == hub.EventOffline:
				state = hub.StateOffline
			case e.Type == hub.EventOnline:
				state = hub.StateOnline
				online++
			}
		}
		p, err := s.GetProxy(ctx, "acme", name)
		if err != nil || p.State != state {
			t.Fatalf("%s: state %q (%v), its stream says %q", name, p.State, err, state)
		}
	}
	if int64(online) != cameOnline.Load() {
		t.Fatalf("%d online events, %d heartbeats reported CameOnline", online, cameOnline.Load())
	}
}

// TestBatch_EventsFollowTheBatchOrder: one batch in which an offline proxy
// comes back, changes IP and another registers appends its events in
// order, in the batch's transaction, and reports them.
func TestBatch_EventsFollowTheBatchOrder(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{})
	ctx := context.Background()
	ten := tenant("acme")
	ten.OfflineAfter = time.Minute
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s, hb("acme", "edge-1", "192.0.2.1", t0))
	if evs, err := s.ExpireProxies(ctx, t0.Add(2*time.Minute), 0); err != nil || len(evs) != 1 {
		t.Fatalf("expire: %+v %v", evs, err)
	}
	at := t0.Add(3 * time.Minute)
	res, errs, err := s.WriteBatchForTest(ctx, []hub.Heartbeat{
		hb("acme", "edge-1", "192.0.2.1", at),
		hb("acme", "edge-2", "192.0.2.7", at),
		hb("acme", "edge-1", "192.0.2.2", at.Add(time.Second)),
	})
	if err != nil || errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("batch: %v %v", err, errs)
	}
	if !res[0].CameOnline || res[0].Changed || res[2].CameOnline || !res[2].Changed || !res[1].Created {
		t.Fatalf("results: %+v", res)
	}
	for i, r := range res {
		want := at.Add(time.Minute)
		if i == 2 {
			want = at.Add(time.Minute + time.Second)
		}
		if r.Proxy.State != hub.StateOnline || !r.Proxy.Deadline.Equal(want) {
			t.Errorf("result %d: state %q deadline %v, want online and %v", i, r.Proxy.State, r.Proxy.Deadline, want)
		}
	}
	var got []string
	for _, e := range events(t, s, "acme", hub.EventQuery{Ascending: true}) {
		got = append(got, fmt.Sprintf("%s:%s", e.Type, e.Proxy))
	}
	want := "[registered:edge-1 offline:edge-1 online:edge-1 registered:edge-2 ip_changed:edge-1]"
	if fmt.Sprint(got) != want {
		t.Fatalf("events %v, want %s", got, want)
	}
	p, _ := s.GetProxy(ctx, "acme", "edge-1")
	if p.State != hub.StateOnline || !p.Deadline.Equal(at.Add(time.Minute+time.Second)) || p.Paused || p.OfflineAfter != 0 {
		t.Fatalf("proxy after the batch: %+v", p)
	}
}

// TestLeader_OneOfTwoStoresLeads: two stores on one database (two hubs):
// exactly one holds a leadership; closing it, or losing its connection,
// lets the other take it at its next call.
func TestLeader_OneOfTwoStoresLeads(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	ctx := context.Background()
	a, b := open(t, url, postgres.Options{}), open(t, url, postgres.Options{})
	lead := func(s *postgres.Store, name string) bool {
		t.Helper()
		ok, err := s.Leader(ctx, name)
		if err != nil {
			t.Fatalf("Leader(%s): %v", name, err)
		}
		return ok
	}
	if !lead(a, "sweeper") || lead(b, "sweeper") {
		t.Fatal("want a to lead the sweeper, b to follow")
	}
	for range 3 { // it stays so
		if !lead(a, "sweeper") || lead(b, "sweeper") {
			t.Fatal("leadership moved")
		}
	}
	if !lead(b, "dispatcher") || lead(a, "dispatcher") {
		t.Fatal("another name is a leadership of its own")
	}

	// a's connection dies: the lock goes with it; b takes it; a, back,
	// follows.
	admin := connect(t, pgtest.AdminURL(t, url))
	if n := terminate(t, admin, url, "proxyhub-leader", "sweeper"); n != 1 {
		t.Fatalf("terminated %d leader connections", n)
	}
	if !waitFor(func() bool { return lead(b, "sweeper") }) {
		t.Fatal("b did not take the leadership after a's connection died")
	}
	if lead(a, "sweeper") {
		t.Fatal("a still leads after losing its connection")
	}

	// b closes: a leads at its next call.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !lead(a, "sweeper") || !lead(a, "dispatcher") {
		t.Fatal("a does not lead after b closed")
	}
	if ok, err := b.Leader(ctx, "sweeper"); ok || err == nil {
		t.Fatalf("closed store: Leader = %v, %v", ok, err)
	}
}

// terminate ends the backends of the test database with this
// application_name (holding the named advisory lock, when name is set).
func terminate(t *testing.T, admin *pgx.Conn, dbURL, app, name string) int {
	t.Helper()
	sql := `SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a
	         WHERE a.datname = $1 AND a.application_name = $2`
	args := []any{dbName(dbURL), app}
	if name != "" {
		sql += ` AND EXISTS (SELECT FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.objid::int = hashtext($3))`
		args = append(args, name)
	}
	var n int
	if err := admin.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func dbName(dbURL string) string {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return ""
	}
	return cfg.Database
}

// waitFor polls cond for up to 10 s.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// TestWatch_ReconnectsAfterTheConnectionDrops: the watch's connection is
// killed; it reconnects, wakes every tenant (notifications may have been
// lost), and goes on reporting appends. Cancelling returns nil; closing the
// store ends it too.
func TestWatch_ReconnectsAfterTheConnectionDrops(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	s := open(t, url, postgres.Options{Logger: slog.New(slog.NewJSONHandler(lockedWriter{&mu, &logs}, nil))})
	other := open(t, url, postgres.Options{}) // another hub appends
	mustCreateTenants(t, s, "acme", "globex")
	admin := connect(t, pgtest.AdminURL(t, url))

	ctx, cancel := context.WithCancel(context.Background())
	woke := make(chan string, 100)
	done := make(chan error, 1)
	go func() { done <- s.WatchEvents(ctx, func(id string) { woke <- id }) }()
	listening := func() bool {
		var n int
		_ = admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'proxyhub-watch' AND query LIKE 'LISTEN%'`, dbName(url)).Scan(&n)
		return n == 1
	}
	if !waitFor(listening) {
		t.Fatal("the watch does not listen")
	}
	expect := func(tenants ...string) {
		t.Helper()
		want := map[string]bool{}
		for _, id := range tenants {
			want[id] = true
		}
		timeout := time.After(10 * time.Second)
		for len(want) > 0 {
			select {
			case id := <-woke:
				delete(want, id)
			case <-timeout:
				t.Fatalf("no wake-up for %v", want)
			}
		}
	}
	mustRecord(t, other, hb("globex", "edge-1", "192.0.2.1", t0))
	expect("globex")

	if n := terminate(t, admin, url, "proxyhub-watch", ""); n != 1 {
		t.Fatalf("terminated %d watch connections", n)
	}
	expect("acme", "globex") // woken after reconnecting
	if !waitFor(listening) {
		t.Fatal("the watch did not listen again")
	}
	// The reconnect is logged with the error under "error" and the wait in
	// milliseconds.
	mu.Lock()
	reconnect := regexp.MustCompile(`"msg":"postgres: LISTEN connection failed; reconnecting".*"error":"[^"]+".*"backoff_ms":\d+[,}]`)
	if !reconnect.MatchString(logs.String()) {
		t.Errorf("reconnect log lacks error and backoff_ms:\n%s", logs.String())
	}
	mu.Unlock()
	mustRecord(t, other, hb("acme", "edge-1", "192.0.2.1", t0))
	expect("acme")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("cancelled watch: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end with its context")
	}

	go func() { done <- s.WatchEvents(context.Background(), func(string) {}) }()
	if !waitFor(listening) {
		t.Fatal("the second watch does not listen")
	}
	s.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a watch ended by Close returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end with the store")
	}
}

// TestSweep_UsesThePartialIndex: the sweep's selection reads proxies_due,
// not the table, both as a custom and as a generic plan (pgx prepares its
// statements; PostgreSQL may switch to a generic plan after five runs).
func TestSweep_UsesThePartialIndex(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	mustCreateTenants(t, s, "acme")
	fillProxies(t, connect(t, pgtest.AdminURL(t, url)), "acme", 20000, 10)
	role := connect(t, url) // the store's role: the plans include the row-level security policies
	for _, sql := range []string{postgres.SweepSelectSQL, postgres.ExpireSQL} {
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			plan := explainSweep(t, role, sql, mode, false)
			if !strings.Contains(plan, "proxies_due") || strings.Contains(plan, "Seq Scan") {
				t.Errorf("%s: the sweep does not read proxies_due:\n%s", mode, plan)
			}
		}
	}
	evs, err := s.ExpireProxies(context.Background(), t0, 0)
	if err != nil || len(evs) != 10 {
		t.Fatalf("expired %d (%v), want 10", len(evs), err)
	}
}

// TestSweep_PlanHoldsWhenStatisticsLag: statistics taken while no proxy
// was due, then every proxy comes due at once (a fleet registered
// together, one timeout later). A sweep transaction must still walk
// proxies_due in order and probe each proxy once: no sort of every due
// proxy, no bitmap of proxies_due per proxy visited, and buffers in
// proportion to the 1,000 proxies it visits, not to the 20,000 due.
func TestSweep_PlanHoldsWhenStatisticsLag(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	mustCreateTenants(t, s, "acme")
	admin := connect(t, pgtest.AdminURL(t, url))
	const proxies = 20000
	fillProxies(t, admin, "acme", proxies, 0) // analyzed: nothing due
	if _, err := admin.Exec(context.Background(), `
		UPDATE proxies SET last_seen = $1::timestamptz - interval '81 seconds',
		       deadline = $1::timestamptz - interval '1 second', check_at = $1::timestamptz - interval '1 second'`, t0); err != nil {
		t.Fatal(err)
	}
	role := connect(t, url)
	hits := regexp.MustCompile(`Buffers: shared hit=(\d+)`)
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		plan := explainSweep(t, role, postgres.ExpireSQL, mode, true)
		if strings.Contains(plan, "Sort") || strings.Contains(plan, "Bitmap") {
			t.Errorf("%s: the sweep sorts or bitmaps the due proxies:\n%s", mode, plan)
		}
		m := hits.FindStringSubmatch(plan)
		if m == nil {
			t.Fatalf("%s: no buffer count in the plan:\n%s", mode, plan)
		}
		if n, _ := strconv.Atoi(m[1]); n > 30*1000 {
			t.Errorf("%s: the sweep of 1,000 proxies read %d buffers:\n%s", mode, n, plan)
		}
	}
	evs, err := s.ExpireProxies(context.Background(), t0, 0)
	if err != nil || len(evs) != proxies {
		t.Fatalf("expired %d (%v), want %d", len(evs), err, proxies)
	}
}

// fillProxies inserts n online proxies of tenantID directly (as the
// administrator, bypassing row-level security), of which the first
// expired have their deadline before t0 and the rest an hour after, then
// analyzes the table.
func fillProxies(t testing.TB, admin *pgx.Conn, tenantID string, n, expired int) {
	t.Helper()
	insertProxies(t, admin, tenantID, n, expired)
	if _, err := admin.Exec(context.Background(), `VACUUM (ANALYZE) proxies`); err != nil {
		t.Fatal(err)
	}
}

// insertProxies is fillProxies without analyzing: the statistics are what
// autovacuum left, as for a young deployment.
func insertProxies(t testing.TB, admin *pgx.Conn, tenantID string, n, expired int) {
	t.Helper()
	ctx := context.Background()
	_, err := admin.Exec(ctx, `
		INSERT INTO proxies (tenant_id, name, ip, peer_ip, created_at, last_seen, state, timeout_ms, deadline, check_at)
		SELECT $1, 'p-' || lpad(g::text, 8, '0'), '10.0.0.1', '10.0.0.1', $2::timestamptz, ls.last_seen, 'online', 80000,
		       ls.last_seen + interval '80 seconds', ls.last_seen + interval '80 seconds'
		  FROM generate_series(1, $3::int) AS g,
		       LATERAL (SELECT CASE WHEN g <= $4::int THEN $2::timestamptz - interval '81 seconds' - g * interval '1 millisecond'
		                            ELSE $2::timestamptz + interval '1 hour' + (g % 1000) * interval '1 millisecond' END AS last_seen) ls`,
		tenantID, t0, n, expired)
	if err != nil {
		t.Fatal(err)
	}
}

// explainSweep returns the plan of sql (the sweep's selection or its whole
// statement) at t0, limit 1000, in the sweeper's scope with the sweep
// transaction's planner settings and the given plan_cache_mode; analyze
// runs it (in a transaction rolled back) and counts buffers.
func explainSweep(t testing.TB, conn *pgx.Conn, sql, planMode string, analyze bool) string {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	name := fmt.Sprintf("sweep_%d", explained.Add(1))
	for _, sql := range []string{
		`SELECT set_config('proxyhub.scope', 'sweeper', true)`,
		postgres.SweepPlannerSQL,
		`SELECT set_config('plan_cache_mode', '` + planMode + `', true)`,
		`PREPARE ` + name + `(timestamptz, int) AS ` + sql,
	} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	defer conn.Exec(ctx, `DEALLOCATE `+name) // PREPARE outlives the transaction
	opts := "COSTS OFF"
	if analyze {
		opts = "ANALYZE, BUFFERS, COSTS OFF"
	}
	rows, err := tx.Query(ctx, `EXPLAIN (`+opts+`) EXECUTE `+name+`('`+t0.Format(time.RFC3339Nano)+`', 1000)`)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

var explained atomic.Int64

var joinFilterRemoved = regexp.MustCompile(`Rows Removed by Join Filter: (\d+)`)

// TestBeat_PlanIsBoundedByTheBatch: the heartbeat's statement must cost
// what its batch holds, whatever the table's statistics say, as a custom
// and as a generic plan. Two ways it once went wrong, each measured at 60
// times slower heartbeats: a permissive policy naming the sweep index's
// columns, OR'ed into every UPDATE of proxies, made the UPDATE a BitmapOr
// over proxies_due (every online proxy); and on a young table (no
// statistics) a standalone tenant_id = $1 restriction made the planner put
// every proxy of the tenant on the outer side of a nested loop over the
// batch. And with statistics, a hash join over a sequential scan of the
// whole tenant (20 ms of a 30 ms batch at 20,000 proxies). So: never the
// sweep index, never a sequential scan of proxies, and never more
// comparisons in a join filter than batch × batch.
func TestBeat_PlanIsBoundedByTheBatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		proxies int
		analyze bool
	}{{5000, false}, {5000, true}, {50000, true}} {
		t.Run(fmt.Sprintf("proxies=%d,analyzed=%v", tc.proxies, tc.analyze), func(t *testing.T) {
			t.Parallel()
			testBeatPlan(t, tc.proxies, tc.analyze)
		})
	}
}

func testBeatPlan(t *testing.T, proxies int, analyze bool) {
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	mustCreateTenants(t, s, "acme")
	if analyze {
		fillProxies(t, connect(t, pgtest.AdminURL(t, url)), "acme", proxies, 0)
	} else {
		insertProxies(t, connect(t, pgtest.AdminURL(t, url)), "acme", proxies, 0)
	}
	conn := connect(t, url)
	ctx := context.Background()
	names, ips, ats, strs := make([]string, 256), make([]netip.Addr, 256), make([]time.Time, 256), make([]string, 256)
	for i := range names {
		names[i], ips[i], ats[i] = fmt.Sprintf("p-%08d", i*(proxies/256)+1), netip.MustParseAddr("10.0.0.2"), t0
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		func() {
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			name := fmt.Sprintf("beat_%d", explained.Add(1))
			for _, sql := range []string{
				`SELECT set_config('proxyhub.tenant', 'acme', true)`,
				`SELECT set_config('plan_cache_mode', '` + mode + `', true)`,
				postgres.PlannerSQL,
				`PREPARE ` + name + ` AS ` + postgres.BeatSQL,
			} {
				if _, err := tx.Exec(ctx, sql); err != nil {
					t.Fatal(err)
				}
			}
			defer conn.Exec(ctx, `DEALLOCATE `+name)
			rows, err := tx.Query(ctx, `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE `+name+`('acme', $1, $2, $2, $3, $4, $4)`,
				pgx.QueryExecModeSimpleProtocol, names, ips, ats, strs) // EXPLAIN takes no bind parameters
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			p := strings.Join(plan, "\n")
			if strings.Contains(p, "proxies_due") {
				t.Errorf("%s: the heartbeat's statement reads the sweep index:\n%s", mode, p)
			}
			if strings.Contains(p, "Seq Scan on proxies") {
				t.Errorf("%s: the heartbeat's statement reads every proxy:\n%s", mode, p)
			}
			for _, m := range joinFilterRemoved.FindAllStringSubmatch(p, -1) {
				if n, _ := strconv.Atoi(m[1]); n > len(names)*len(names) {
					t.Errorf("%s: a join filter compared %d rows for a batch of %d:\n%s", mode, n, len(names), p)
				}
			}
		}()
	}
}
