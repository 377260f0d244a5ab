//go:build linux

package main

// Fault injection: hubs run as processes of the built binary on a real
// PostgreSQL database (a fresh one per test), and the faults are real ones
// (SIGKILL, SIGTERM, SIGSTOP/SIGCONT, a TCP proxy that stops forwarding, a
// row lock held by another session, pg_terminate_backend). Each test logs
// what it measured as "figure: name=value" lines (go test -v shows them).
//
// Loads stay modest (tens to a couple of hundred heartbeats per second):
// the tests share two cores with the database and with each other.

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestFault_Kill9UnderLoadLosesNoAcknowledgedChange: a hub is killed with
// SIGKILL while heartbeats change IPs; a hub restarted on the same database
// has every IP change that a 200 answer acknowledged, exactly once.
func TestFault_Kill9UnderLoadLosesNoAcknowledgedChange(t *testing.T) {
	f := newFaultEnv(t)
	start := time.Now()
	a := f.startHub("hub-a")
	token := f.setupTenant(a.base, "acme", "")
	proxies := names("edge", 40)
	f.register(a.base, token, proxies)

	l := f.startLoad(loadPlan{base: func() string { return a.base }, token: token, names: proxies, workers: 8, rate: 200, change: 0.5})
	time.Sleep(2 * time.Second)
	// Kill while heartbeats are in flight (some in a batch being written).
	busy := l.waitInflight(4, 2*time.Second)
	killAt := time.Now()
	a.kill9()
	time.Sleep(300 * time.Millisecond) // the load goes on against the dead hub
	l.stop()
	as, acks := l.results()

	cut := 0 // heartbeats in flight when the hub died: no answer
	for _, x := range as {
		if x.start.Before(killAt) && x.status == 0 {
			cut++
		}
	}
	figure(t, "heartbeats_sent", len(as))
	figure(t, "heartbeats_before_kill", len(startedBetween(as, start, killAt)))
	figure(t, "killed_with_4_in_flight", busy)
	figure(t, "heartbeats_cut_by_kill", cut)
	figure(t, "outcomes", outcomes(as))
	if len(acks) < 50 {
		t.Fatalf("only %d IP changes acknowledged before the kill: the load did not run", len(acks))
	}

	b := f.startHub("hub-b") // the restart, on the same database
	restarted := time.Now()
	if x := f.mustBeat(b.base, token, proxies[0], proxyIP(1000)); x.changed {
		k, _ := x.ack()
		acks = append(acks, k)
	}
	figure(t, "restart_to_first_heartbeat", time.Since(restarted))
	f.verify(b.base, "acme", "kill9", start, acks)
}

// TestFault_SIGTERMWithBlockedWriteIsBounded: the hub's database stalls
// (the proxy in front of it stops forwarding) with heartbeats waiting on
// it; SIGTERM with PROXYHUB_SHUTDOWN_TIMEOUT=2s ends the process within
// the timeout and a margin, the waiting heartbeats are answered 503
// problem+json (not cut off), and what was committed before stays.
func TestFault_SIGTERMWithBlockedWriteIsBounded(t *testing.T) {
	const shutdownTimeout, margin = 2 * time.Second, 1500 * time.Millisecond
	f := newFaultEnv(t)
	start := time.Now()
	px := f.newPGProxy()
	h := f.startHub("hub-a", "PROXYHUB_DATABASE_URL", f.hubURL("hub-a", px.Addr()),
		"PROXYHUB_SHUTDOWN_TIMEOUT", shutdownTimeout.String(), "PROXYHUB_STORE_TIMEOUT", "10s")
	token := f.setupTenant(h.base, "acme", "")
	proxies := names("edge", 6)
	f.register(h.base, token, proxies)
	var acks []answer
	for _, n := range proxies[:5] {
		acks = append(acks, f.mustBeat(h.base, token, n, proxyIP(1)))
	}

	px.Pause()
	answers := make(chan answer, len(proxies))
	for _, n := range proxies {
		go func() { answers <- f.heartbeat(h.base, token, n, proxyIP(2)) }()
	}
	time.Sleep(500 * time.Millisecond)
	if len(answers) > 0 {
		x := <-answers
		t.Fatalf("a heartbeat was answered while the database stalled, before the signal: %v %s", x, x.body)
	}
	termAt := time.Now()
	h.signal(syscall.SIGTERM)
	exitAt := h.waitExit(20 * time.Second)
	if exitAt.IsZero() {
		t.Fatalf("the hub did not exit within 20s of SIGTERM (shutdown timeout %v)", shutdownTimeout)
	}
	exitTook := exitAt.Sub(termAt)
	figure(t, "shutdown_timeout", shutdownTimeout)
	figure(t, "exit_after_sigterm", exitTook)
	if exitTook > shutdownTimeout+margin {
		t.Errorf("the hub exited %v after SIGTERM, want within %v + %v", exitTook, shutdownTimeout, margin)
	}
	if h.waitErr != nil {
		t.Errorf("exit status after SIGTERM: %v, want 0", h.waitErr)
	}
	figure(t, "store_close_cut_short", strings.Contains(h.logs.String(), "the store did not close in time"))

	var blocked []answer
	for range proxies {
		select {
		case x := <-answers:
			blocked = append(blocked, x)
		case <-time.After(20 * time.Second):
			t.Fatalf("%d of %d blocked heartbeats never returned", len(proxies)-len(blocked), len(proxies))
		}
	}
	var latest time.Duration
	for _, x := range blocked {
		latest = max(latest, x.end().Sub(termAt))
		if x.status != http.StatusServiceUnavailable || !strings.HasPrefix(x.contentType, "application/problem+json") || x.retryAfter == "" {
			t.Errorf("blocked heartbeat %v: Content-Type %q, Retry-After %q, body %q; want 503 problem+json with Retry-After",
				x, x.contentType, x.retryAfter, x.body)
		}
	}
	figure(t, "blocked_heartbeats", len(blocked))
	figure(t, "blocked_outcomes", outcomes(blocked))
	figure(t, "blocked_answered_after_sigterm", latest)

	px.Resume()
	b := f.startHub("hub-b") // directly on the database
	f.verify(b.base, "acme", "sigterm", start, append(acksOf(acks), acksOf(blocked)...))
}

// TestFault_StalledStoreAnswers503BeforeClientsGiveUp: with the database
// stalled, a heartbeat is answered 503 with Retry-After at the store
// timeout (default 5s), before the cron line's 10s; once the database is
// back, heartbeats succeed again.
func TestFault_StalledStoreAnswers503BeforeClientsGiveUp(t *testing.T) {
	f := newFaultEnv(t)
	start := time.Now()
	px := f.newPGProxy()
	h := f.startHub("hub-a", "PROXYHUB_DATABASE_URL", f.hubURL("hub-a", px.Addr()))
	token := f.setupTenant(h.base, "acme", "")
	proxies := names("edge", 3)
	f.register(h.base, token, proxies)

	px.Pause()
	ch := make(chan answer, len(proxies))
	for _, n := range proxies {
		go func() { ch <- f.heartbeat(h.base, token, n, proxyIP(1)) }()
	}
	var stalled []answer
	for range proxies {
		stalled = append(stalled, <-ch)
	}
	_, slowest := latencies(stalled)
	fastest := slowest
	for _, x := range stalled {
		fastest = min(fastest, x.took)
		if x.status != http.StatusServiceUnavailable || x.retryAfter == "" || !strings.HasPrefix(x.contentType, "application/problem+json") || x.took >= 10*time.Second {
			t.Errorf("heartbeat with the database stalled: %v, Retry-After %q, Content-Type %q; want 503 problem+json with Retry-After within 10s",
				x, x.retryAfter, x.contentType)
		}
	}
	figure(t, "stalled_outcomes", outcomes(stalled))
	figure(t, "stalled_answer_min", fastest)
	figure(t, "stalled_answer_max", slowest)

	resumeAt := time.Now()
	px.Resume()
	var after []answer
	var recovered time.Duration
	for i := 0; ; i++ {
		x := f.heartbeat(h.base, token, proxies[i%len(proxies)], proxyIP(2+i))
		after = append(after, x)
		if x.status == http.StatusOK {
			recovered = x.end().Sub(resumeAt)
			break
		}
		if time.Since(resumeAt) > 15*time.Second {
			t.Fatalf("no heartbeat succeeded within 15s of the database's return; last: %v %s", x, x.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, n := range proxies {
		after = append(after, f.mustBeat(h.base, token, n, proxyIP(100)))
	}
	figure(t, "recovery_after_resume", recovered)
	figure(t, "failed_after_resume", len(after)-len(proxies)-1)
	f.verify(h.base, "acme", "stalled", start, append(acksOf(stalled), acksOf(after)...))
}

// TestFault_RowLockCostsOnlyItsHeartbeat: another session holds one
// proxy's row lock; that proxy's heartbeats are answered 503 within the
// store timeout, the tenant's other heartbeats (same token) stay fast, and
// nothing is lost once the lock is released.
func TestFault_RowLockCostsOnlyItsHeartbeat(t *testing.T) {
	const window = 8 * time.Second // how long the lock is held
	f := newFaultEnv(t)
	start := time.Now()
	h := f.startHub("hub-a")
	token := f.setupTenant(h.base, "acme", "")
	others := names("edge", 20)
	f.register(h.base, token, append(others, "locked"))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tx, err := f.admin().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	ct, err := tx.Exec(ctx, `SELECT FROM proxies WHERE tenant_id = 'acme' AND name = 'locked' FOR UPDATE`)
	if err != nil || ct.RowsAffected() != 1 {
		t.Fatalf("lock the row: %v (%d rows)", err, ct.RowsAffected())
	}
	lockedAt := time.Now()

	l := f.startLoad(loadPlan{base: func() string { return h.base }, token: token, names: others, workers: 4, rate: 40, change: 0.3})
	// Each heartbeat of the locked proxy goes with heartbeats of three
	// others sent at the same moment, so that they share its batch.
	var lockedAnswers, alongside []answer
	for n := 1; time.Since(lockedAt) < window; n++ {
		ch := make(chan answer, 3)
		for j := range 3 {
			name := others[(3*n+j)%len(others)]
			go func() { ch <- f.heartbeat(h.base, token, name, proxyIP(10000+n)) }()
		}
		lockedAnswers = append(lockedAnswers, f.heartbeat(h.base, token, "locked", proxyIP(n)))
		for range 3 {
			alongside = append(alongside, <-ch)
		}
	}
	l.stop()
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	figure(t, "lock_held", time.Since(lockedAt))

	as, _ := l.results()
	as = append(as, alongside...)
	acks := acksOf(as)
	p50, worst := latencies(as)
	_, worstAlongside := latencies(alongside)
	figure(t, "others_heartbeats", len(as))
	figure(t, "others_sent_with_locked_max", worstAlongside)
	figure(t, "others_outcomes", outcomes(as))
	figure(t, "others_p50", p50)
	figure(t, "others_max", worst)
	_, lockedWorst := latencies(lockedAnswers)
	figure(t, "locked_heartbeats", len(lockedAnswers))
	figure(t, "locked_outcomes", outcomes(lockedAnswers))
	figure(t, "locked_answer_max", lockedWorst)
	for _, x := range as {
		if x.status != http.StatusOK {
			t.Errorf("a heartbeat of an unlocked proxy failed: %v", x)
		}
	}
	if worst >= 2500*time.Millisecond {
		t.Errorf("heartbeats of unlocked proxies took up to %v, want < 2.5s", worst)
	}
	for _, x := range lockedAnswers {
		if x.status != http.StatusServiceUnavailable || x.retryAfter == "" || x.took >= 6*time.Second {
			t.Errorf("heartbeat of the locked proxy: %v, Retry-After %q; want 503 with Retry-After within 6s", x, x.retryAfter)
		}
	}

	x := f.mustBeat(h.base, token, "locked", proxyIP(1000))
	if !x.changed || x.previousIP != proxyIP(0) {
		t.Errorf("after the release, the locked proxy's heartbeat: changed %v from %q, want a change from %s (nothing of the refused ones written)",
			x.changed, x.previousIP, proxyIP(0))
	}
	f.verify(h.base, "acme", "rowlock", start, append(acks, acksOf([]answer{x})...))
}

// TestFault_FrozenHubDoesNotStallAnother: hub A is frozen (SIGSTOP),
// caught inside a batch transaction when possible, while both hubs carry
// heartbeats of two tenants (different proxies per hub); hub B's
// heartbeats stay fast throughout, and after SIGCONT every change either
// hub acknowledged is recorded.
func TestFault_FrozenHubDoesNotStallAnother(t *testing.T) {
	const frozenFor = 7 * time.Second
	f := newFaultEnv(t)
	start := time.Now()
	a := f.startHub("hub-a")
	b := f.startHub("hub-b")
	tokens := map[string]string{"acme": f.setupTenant(a.base, "acme", ""), "beta": f.setupTenant(b.base, "beta", "")}
	hubs := map[string]*hubProc{"a": a, "b": b}
	loads := map[string]*load{} // by hub and tenant: "a/acme"
	for _, hub := range []string{"a", "b"} {
		for _, tenant := range []string{"acme", "beta"} {
			base, ns := hubs[hub].base, names(hub, 20)
			f.register(base, tokens[tenant], ns)
			loads[hub+"/"+tenant] = f.startLoad(loadPlan{base: func() string { return base }, token: tokens[tenant], names: ns, workers: 3, rate: 30, change: 0.3})
		}
	}
	stopAll := func() {
		for _, l := range loads {
			l.stop()
		}
	}
	defer stopAll()
	time.Sleep(2 * time.Second)

	inTx, attempts := f.freezeInTransaction(a)
	frozenAt := time.Now()
	figure(t, "hub_a_frozen_inside_transaction", inTx)
	figure(t, "freeze_attempts", attempts)
	time.Sleep(time.Until(frozenAt.Add(frozenFor)))
	a.signal(syscall.SIGCONT)
	thawedAt := time.Now()
	time.Sleep(2 * time.Second)
	stopAll()

	var bAll, aAll []answer
	for key, l := range loads {
		as, _ := l.results()
		if strings.HasPrefix(key, "b/") {
			bAll = append(bAll, as...)
		} else {
			aAll = append(aAll, as...)
		}
	}
	during := startedBetween(bAll, frozenAt, thawedAt)
	p50, worst := latencies(during)
	figure(t, "hub_a_frozen_for", thawedAt.Sub(frozenAt))
	figure(t, "hub_b_heartbeats_during_freeze", len(during))
	figure(t, "hub_b_outcomes_during_freeze", outcomes(during))
	figure(t, "hub_b_p50_during_freeze", p50)
	figure(t, "hub_b_max_during_freeze", worst)
	figure(t, "hub_a_outcomes", outcomes(aAll))
	if len(during) < 50 {
		t.Errorf("only %d heartbeats through hub B during the freeze", len(during))
	}
	for _, x := range during {
		if x.status != http.StatusOK {
			t.Errorf("heartbeat through hub B during the freeze: %v", x)
		}
	}
	if worst >= 3*time.Second {
		t.Errorf("hub B's heartbeats took up to %v during the freeze, want < 3s", worst)
	}
	for _, tenant := range []string{"acme", "beta"} {
		aAs, _ := loads["a/"+tenant].results()
		bAs, _ := loads["b/"+tenant].results()
		f.verify(b.base, tenant, "frozen_"+tenant, start, append(acksOf(aAs), acksOf(bAs)...))
	}
}

// freezeInTransaction stops hub h with SIGSTOP, trying to catch it inside
// a transaction (one of its sessions idle in transaction, its locks held):
// if a stop finds none, the hub gets SIGCONT and another try a moment
// later. It reports whether it succeeded and after how many tries; the
// hub is stopped either way.
func (f *faultEnv) freezeInTransaction(h *hubProc) (inTx bool, attempts int) {
	f.t.Helper()
	conn := f.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for attempts = 1; attempts <= 60; attempts++ {
		h.signal(syscall.SIGSTOP)
		time.Sleep(30 * time.Millisecond) // what it sent before the stop is processed
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1 AND state LIKE 'idle in transaction%'`, h.name).Scan(&n)
		if err != nil {
			f.t.Fatal(err)
		}
		if n > 0 {
			return true, attempts
		}
		h.signal(syscall.SIGCONT)
		time.Sleep(time.Duration(5+rand.IntN(40)) * time.Millisecond)
	}
	h.signal(syscall.SIGSTOP)
	return false, attempts - 1
}

// TestFault_SweeperTakesOverAfterKillAndAfterFreeze: the leading sweeper
// is frozen (a), then killed (b), shortly before proxies' deadlines pass;
// each time the other hub reports them offline within seconds of the
// deadline.
func TestFault_SweeperTakesOverAfterKillAndAfterFreeze(t *testing.T) {
	f := newFaultEnv(t)
	conn := f.admin()
	// Proxies go offline 2 s after their last heartbeat (the shortest
	// setting is 1 s).
	a := f.startHub("hub-a", "PROXYHUB_OFFLINE_AFTER", "2s")
	// A starts alone, so the sweeper's leadership is A's once it is taken.
	waitSweeperLeader(t, conn)
	b := f.startHub("hub-b", "PROXYHUB_OFFLINE_AFTER", "2s")
	token := f.setupTenant(b.base, "acme", "")

	// (a) The leader freezes: its session stops talking, the server ends
	// it (idle_session_timeout), and B takes over.
	frz := names("frz", 10)
	f.register(b.base, token, frz)
	a.signal(syscall.SIGSTOP)
	frozenAt := time.Now()
	deadline, seen := f.waitOffline(b.base, "acme", "frz-", len(frz))
	figure(t, "freeze_before_deadline", deadline.Sub(frozenAt))
	figure(t, "offline_after_deadline_leader_frozen", seen.Sub(deadline))
	figure(t, "offline_after_freeze", seen.Sub(frozenAt))
	if d := seen.Sub(deadline); d >= 6*time.Second {
		t.Errorf("with the leader frozen, proxies were reported offline %v after their deadline, want < 6s", d)
	}
	if !b.loggedWithin("proxies_offline", 3*time.Second) {
		t.Error("hub B never swept: the flips were not its own")
	}
	a.signal(syscall.SIGCONT)

	// (b) The leader (now B) is killed; A, resumed, takes over.
	time.Sleep(500 * time.Millisecond)
	kil := names("kil", 10)
	f.register(a.base, token, kil)
	b.kill9()
	killedAt := time.Now()
	deadline, seen = f.waitOffline(a.base, "acme", "kil-", len(kil))
	figure(t, "kill_before_deadline", deadline.Sub(killedAt))
	figure(t, "offline_after_deadline_leader_killed", seen.Sub(deadline))
	figure(t, "offline_after_kill", seen.Sub(killedAt))
	if d := seen.Sub(deadline); d >= 6*time.Second {
		t.Errorf("with the leader killed, proxies were reported offline %v after their deadline, want < 6s", d)
	}
	if !a.loggedWithin("proxies_offline", 3*time.Second) {
		t.Error("hub A never swept after B's death: the flips were not its own")
	}
}

// waitSweeperLeader waits until some session holds the sweeper's
// leadership lock (internal/store/postgres/leader.go).
func waitSweeperLeader(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			  AND classid = 1885891684 AND objsubid = 2 AND objid::bigint = hashtext('proxyhub-sweeper')::bigint & 4294967295`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no hub took the sweeper's leadership within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOffline polls hub base's offline events of tenant until n proxies
// named with prefix have one, and returns the latest of their deadlines
// (the events' time) and when the last of them was seen.
func (f *faultEnv) waitOffline(base, tenant, prefix string, n int) (deadline, seen time.Time) {
	f.t.Helper()
	limit := time.Now().Add(20 * time.Second)
	for {
		_, page := call(f.t, http.MethodGet, base+"/v1/tenants/"+tenant+"/events?type=offline&limit=100", f.platform, "")
		seen = time.Now()
		evs, _ := page["events"].([]any)
		got := map[string]time.Time{}
		for _, e := range evs {
			m := e.(map[string]any)
			if name, _ := m["proxy"].(string); strings.HasPrefix(name, prefix) {
				at, err := time.Parse(time.RFC3339Nano, m["at"].(string))
				if err != nil {
					f.t.Fatal(err)
				}
				got[name] = at
			}
		}
		if len(got) >= n {
			for _, at := range got {
				if at.After(deadline) {
					deadline = at
				}
			}
			return deadline, seen
		}
		if time.Now().After(limit) {
			f.t.Fatalf("only %d of %d proxies %s* reported offline through %s within 20s", len(got), n, prefix, base)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFault_TerminatedConnectionsUnderLoad: every session of the hub's
// database is terminated (pg_terminate_backend) three times, a second
// apart, under load; the hub recovers within a second of the last, and
// every acknowledged change is recorded.
func TestFault_TerminatedConnectionsUnderLoad(t *testing.T) {
	f := newFaultEnv(t)
	start := time.Now()
	h := f.startHub("hub-a")
	token := f.setupTenant(h.base, "acme", "")
	proxies := names("edge", 30)
	f.register(h.base, token, proxies)
	conn := f.admin()

	l := f.startLoad(loadPlan{base: func() string { return h.base }, token: token, names: proxies, workers: 6, rate: 100, change: 0.5})
	time.Sleep(1500 * time.Millisecond)
	var last time.Time
	var killed []int
	for i := range 3 {
		if i > 0 {
			time.Sleep(time.Second)
		}
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		last = time.Now()
		killed = append(killed, n)
	}
	time.Sleep(2500 * time.Millisecond)
	l.stop()
	as, acks := l.results()

	firstOK := time.Duration(-1)
	var lastFailure time.Duration
	var failuresLater []answer // started more than a second after the last termination
	for _, x := range as {
		if x.start.Before(last) {
			if x.status != http.StatusOK {
				lastFailure = max(lastFailure, x.end().Sub(last))
			}
			continue
		}
		if x.status == http.StatusOK {
			if d := x.end().Sub(last); firstOK < 0 || d < firstOK {
				firstOK = d
			}
			continue
		}
		lastFailure = max(lastFailure, x.end().Sub(last))
		if x.start.After(last.Add(time.Second)) {
			failuresLater = append(failuresLater, x)
		}
	}
	figure(t, "sessions_terminated", killed)
	figure(t, "heartbeats", len(as))
	figure(t, "outcomes", outcomes(as))
	figure(t, "first_success_after_last_termination", firstOK)
	figure(t, "last_failure_after_last_termination", lastFailure)
	if firstOK < 0 || firstOK >= time.Second {
		t.Errorf("first successful heartbeat %v after the last termination, want < 1s", firstOK)
	}
	for _, x := range failuresLater {
		t.Errorf("a heartbeat sent more than 1s after the last termination failed: %v", x)
	}
	f.verify(h.base, "acme", "terminated", start, acks)
}
