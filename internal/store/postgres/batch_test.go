package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// TestBatch_ConcurrentHeartbeatsAcknowledgedOnce sends 500 heartbeats at
// once over 50 new proxies, each from an address of its own: every proxy is
// created once, every other heartbeat is a change, and the history holds
// exactly the acknowledged changes, chained, once each.
func TestBatch_ConcurrentHeartbeatsAcknowledgedOnce(t *testing.T) {
	t.Parallel()
	// Writers of one hub contend for these 50 rows on purpose; on a loaded
	// machine a batch may hold them longer than the default lock timeout,
	// which is about stalled sessions, not this.
	s := open(t, pgtest.URL(t), postgres.Options{BatchMax: 64, BatchWait: 5 * time.Millisecond, Writers: 3, LockTimeout: 30 * time.Second})
	mustCreateTenants(t, s, "acme")
	const proxies, each = 50, 10
	var (
		mu      sync.Mutex
		created = map[string]int{}
		acked   = map[int64]hub.HeartbeatResult{}
		wg      sync.WaitGroup
	)
	for i := range proxies * each {
		wg.Go(func() {
			h := hb("acme", fmt.Sprintf("edge-%02d", i%proxies), fmt.Sprintf("10.0.%d.%d", i/256, i%256), t0.Add(time.Duration(i)*time.Millisecond))
			res, err := s.RecordHeartbeat(context.Background(), h)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Created {
				created[h.Name]++
			}
			if res.Changed {
				if _, dup := acked[res.ChangeID]; dup {
					t.Errorf("change id %d acknowledged twice", res.ChangeID)
				}
				acked[res.ChangeID] = res
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if len(acked) != proxies*(each-1) {
		t.Fatalf("%d changes acknowledged, want %d", len(acked), proxies*(each-1))
	}
	all := mustChanges(t, s, "acme", hub.AuditQuery{})
	if len(all) != len(acked) {
		t.Fatalf("history holds %d changes, %d were acknowledged", len(all), len(acked))
	}
	for _, c := range all {
		res, ok := acked[c.ID]
		if !ok {
			t.Fatalf("history holds change %d that nobody was told about", c.ID)
		}
		if res.Proxy.Name != c.Proxy || res.PreviousIP != c.OldIP || res.Proxy.IP != c.NewIP {
			t.Fatalf("change %d: history %+v, acknowledged %+v", c.ID, c, res)
		}
	}
	for p := range proxies {
		name := fmt.Sprintf("edge-%02d", p)
		if created[name] != 1 {
			t.Errorf("%s created %d times", name, created[name])
		}
		cs := mustChanges(t, s, "acme", hub.AuditQuery{Proxy: name})
		checkChain(t, cs)
		got, err := s.GetProxy(context.Background(), "acme", name)
		if err != nil || got.IPChanges != each-1 || len(cs) != each-1 || got.IP != cs[0].NewIP {
			t.Errorf("%s: %+v (%v) with %d changes in history", name, got, err, len(cs))
		}
	}
}

// TestBatch_SameProxyRepeatedIsAppliedInOrder writes one batch in which a
// proxy appears several times: the heartbeats apply in the batch's order.
func TestBatch_SameProxyRepeatedIsAppliedInOrder(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{})
	mustCreateTenants(t, s, "acme", "globex")
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	batch := []hub.Heartbeat{
		hb("acme", "edge-1", "192.0.2.1", at(0)),
		hb("acme", "edge-1", "192.0.2.2", at(1)),
		hb("globex", "edge-1", "192.0.2.9", at(2)),
		hb("acme", "edge-1", "192.0.2.3", at(3)),
		hb("acme", "edge-1", "192.0.2.3", at(4)),
		hb("acme", "edge-1", "192.0.2.1", at(5)),
	}
	res, errs, err := s.WriteBatchForTest(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if e != nil {
			t.Fatalf("heartbeat %d: %v", i, e)
		}
	}
	want := []struct {
		created, changed bool
		prev             string
		changes          int64
	}{{true, false, "", 0}, {false, true, "192.0.2.1", 1}, {true, false, "", 0}, {false, true, "192.0.2.2", 2}, {false, false, "", 2}, {false, true, "192.0.2.3", 3}}
	for i, w := range want {
		r := res[i]
		prev := ""
		if r.Changed {
			prev = r.PreviousIP.String()
		}
		if r.Created != w.created || r.Changed != w.changed || prev != w.prev || r.Proxy.IPChanges != w.changes {
			t.Errorf("heartbeat %d: %+v, want created=%v changed=%v prev=%q changes=%d", i, r, w.created, w.changed, w.prev, w.changes)
		}
	}
	cs := mustChanges(t, s, "acme", hub.AuditQuery{})
	if got := describe(cs); got != "192.0.2.3>192.0.2.1 192.0.2.2>192.0.2.3 192.0.2.1>192.0.2.2 " {
		t.Fatalf("history %s", got)
	}
	if !cs[0].At.Equal(at(5)) || cs[0].ID != res[5].ChangeID {
		t.Fatalf("newest change %+v, result %+v", cs[0], res[5])
	}
	p, _ := s.GetProxy(context.Background(), "acme", "edge-1")
	if p.IP.String() != "192.0.2.1" || !p.LastSeen.Equal(at(5)) || !p.CreatedAt.Equal(at(0)) {
		t.Fatalf("proxy after the batch: %+v", p)
	}
}

func describe(cs []hub.IPChange) string {
	out := ""
	for _, c := range cs {
		out += fmt.Sprintf("%s>%s ", c.OldIP, c.NewIP)
	}
	return out
}

// TestBatch_OutcomesAreIndividual: heartbeats refused for reasons of their
// own (unknown tenant, unregistered name, quota) share a batch with others
// that are written.
func TestBatch_OutcomesAreIndividual(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{})
	mustCreateTenants(t, s, "acme")
	ctx := context.Background()
	tok := hub.Token{ID: "tok_1", TenantID: "acme", Label: "fleet", Hash: "h1", CreatedAt: t0}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s, hb("acme", "edge-0", "192.0.2.1", t0))

	ghost := hb("ghost", "edge-1", "192.0.2.1", t0)
	unregistered := hb("acme", "edge-new", "192.0.2.1", t0)
	unregistered.MayCreate = false
	overQuota := hb("acme", "edge-2", "192.0.2.1", t0)
	overQuota.MaxProxies = 2
	first := hb("acme", "edge-1", "192.0.2.1", t0) // the second proxy: within the quota
	first.MaxProxies = 2
	existing := hb("acme", "edge-0", "192.0.2.5", t0.Add(time.Minute))
	existing.TokenID, existing.MayCreate, existing.MaxProxies = "tok_1", false, 1
	unknownInExisting := hb("ghost", "edge-0", "192.0.2.1", t0)
	unknownInExisting.MayCreate = false

	batch := []hub.Heartbeat{ghost, unregistered, first, overQuota, existing, unknownInExisting}
	res, errs, err := s.WriteBatchForTest(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	wantErr := []error{hub.ErrNotFound, hub.ErrNotRegistered, nil, hub.ErrQuotaExceeded, nil, hub.ErrNotFound}
	for i, w := range wantErr {
		if (w == nil && errs[i] != nil) || !errors.Is(errs[i], w) {
			t.Errorf("heartbeat %d (%s/%s): %v, want %v", i, batch[i].TenantID, batch[i].Name, errs[i], w)
		}
	}
	if !res[2].Created || !res[4].Changed || res[4].PreviousIP.String() != "192.0.2.1" {
		t.Fatalf("written heartbeats: %+v and %+v", res[2], res[4])
	}
	ps, _ := s.ListProxies(ctx, "acme", hub.ProxyQuery{})
	if len(ps) != 2 || ps[0].Name != "edge-0" || ps[1].Name != "edge-1" {
		t.Fatalf("proxies after the batch: %+v", ps)
	}
	if got, _ := s.TokenByHash(ctx, "h1"); !got.LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("token last used %v, want the written heartbeat's time", got.LastUsedAt)
	}

	// The same, through RecordHeartbeat: a long BatchWait puts them all in
	// one batch.
	s2 := open(t, pgtest.URL(t), postgres.Options{BatchWait: 200 * time.Millisecond})
	mustCreateTenants(t, s2, "acme")
	if err := s2.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	mustRecord(t, s2, hb("acme", "edge-0", "192.0.2.1", t0))
	got := make([]error, len(batch))
	var wg sync.WaitGroup
	for i, h := range batch {
		if i == 3 {
			h.MaxProxies = 1 // edge-1 may or may not be written first: be over the quota either way
		}
		wg.Go(func() { _, got[i] = s2.RecordHeartbeat(ctx, h) })
	}
	wg.Wait()
	for i, w := range wantErr {
		if (w == nil && got[i] != nil) || !errors.Is(got[i], w) {
			t.Errorf("RecordHeartbeat %d (%s/%s): %v, want %v", i, batch[i].TenantID, batch[i].Name, got[i], w)
		}
	}
}

// TestBatch_QuotaAppliesInOrderWithMixedCaps: new names in one batch meet
// the cap each carries in name order, as if they came one by one.
func TestBatch_QuotaAppliesInOrderWithMixedCaps(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{})
	mustCreateTenants(t, s, "acme")
	mustRecord(t, s, hb("acme", "edge-0", "192.0.2.1", t0)) // 1 proxy
	caps := map[string]int{"edge-a": 0, "edge-b": 3, "edge-c": 3, "edge-d": 2, "edge-e": 0, "edge-f": 5}
	var batch []hub.Heartbeat
	for _, name := range []string{"edge-f", "edge-d", "edge-b", "edge-e", "edge-c", "edge-a"} {
		h := hb("acme", name, "192.0.2.1", t0)
		h.MaxProxies = caps[name]
		batch = append(batch, h)
	}
	_, errs, err := s.WriteBatchForTest(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	// In name order: a (no cap) → 2, b (3) → 3, c (3) refused, d (2)
	// refused, e (no cap) → 4, f (5) → 5.
	refused := map[string]bool{"edge-c": true, "edge-d": true}
	for i, h := range batch {
		if got := errors.Is(errs[i], hub.ErrQuotaExceeded); got != refused[h.Name] || (!got && errs[i] != nil) {
			t.Errorf("%s with cap %d: %v", h.Name, h.MaxProxies, errs[i])
		}
	}
	if ps, _ := s.ListProxies(context.Background(), "acme", hub.ProxyQuery{}); len(ps) != 5 {
		t.Fatalf("%d proxies, want 5", len(ps))
	}
}

// TestBatch_CancelledWhileQueuedIsNotWritten: a heartbeat whose caller gave
// up before its batch was sent is not written.
func TestBatch_CancelledWhileQueuedIsNotWritten(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{BatchWait: 300 * time.Millisecond})
	mustCreateTenants(t, s, "acme")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.RecordHeartbeat(ctx, hb("acme", "given-up", "192.0.2.1", t0))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled heartbeat: %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("a cancelled heartbeat did not return")
	}
	mustRecord(t, s, hb("acme", "kept", "192.0.2.1", t0)) // shares or follows its batch
	if _, err := s.GetProxy(context.Background(), "acme", "given-up"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("cancelled heartbeat was written: %v", err)
	}
}

// TestBatch_CloseWritesPendingHeartbeats: Close waits for the heartbeats
// already accepted and they are written.
func TestBatch_CloseWritesPendingHeartbeats(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s, err := postgres.Open(context.Background(), url, postgres.Options{BatchWait: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mustCreateTenants(t, s, "acme")
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.RecordHeartbeat(context.Background(), hb("acme", fmt.Sprintf("edge-%d", i), "192.0.2.1", t0))
		})
	}
	time.Sleep(100 * time.Millisecond) // all queued, the batch still waiting
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if time.Since(start) > 2*time.Second {
		t.Fatalf("Close took %v", time.Since(start))
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("heartbeat %d pending at Close: %v", i, err)
		}
	}
	reopened := open(t, url, postgres.Options{})
	if ps, err := reopened.ListProxies(context.Background(), "acme", hub.ProxyQuery{}); err != nil || len(ps) != n {
		t.Fatalf("%d proxies after Close (%v), want %d", len(ps), err, n)
	}
}

// TestBatch_FailingStatementFailsOnlyItsHeartbeat: a heartbeat the database
// rejects (a name that is not UTF-8) takes its batch's transaction down;
// the others are written one by one and succeed.
func TestBatch_FailingStatementFailsOnlyItsHeartbeat(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{BatchWait: 200 * time.Millisecond})
	mustCreateTenants(t, s, "acme")
	names := []string{"edge-1", "bad-\xff", "edge-2"}
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { _, errs[i] = s.RecordHeartbeat(context.Background(), hb("acme", name, "192.0.2.1", t0)) })
	}
	wg.Wait()
	if errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("outcomes %v, want only the bad name to fail", errs)
	}
	if ps, _ := s.ListProxies(context.Background(), "acme", hub.ProxyQuery{}); len(ps) != 2 {
		t.Fatalf("%d proxies written, want 2", len(ps))
	}
}

// TestBatch_CallerWhoseDeadlinePassesInFlightGetsTheOutcome: a heartbeat
// whose caller's deadline passes while its batch is in a transaction (here
// held up by a row lock another session holds on a second proxy of the
// batch) is answered with what the transaction did: it committed, so the
// caller learns of its IP change rather than a timeout that would leave an
// unacknowledged change in the history.
func TestBatch_CallerWhoseDeadlinePassesInFlightGetsTheOutcome(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{BatchWait: 100 * time.Millisecond, Writers: 1, LockTimeout: 10 * time.Second})
	mustCreateTenants(t, s, "acme")
	mustRecord(t, s, hb("acme", "hasty", "192.0.2.1", t0))
	mustRecord(t, s, hb("acme", "patient", "192.0.2.1", t0))

	admin := connect(t, pgtest.AdminURL(t, url))
	ctx := context.Background()
	tx, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT FROM proxies WHERE tenant_id = 'acme' AND name = 'patient' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		res hub.HeartbeatResult
		err error
	}
	hasty, patient := make(chan answer, 1), make(chan answer, 1)
	go func() {
		c, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
		defer cancel()
		res, err := s.RecordHeartbeat(c, hb("acme", "hasty", "192.0.2.2", t0.Add(time.Second)))
		hasty <- answer{res, err}
	}()
	go func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		res, err := s.RecordHeartbeat(c, hb("acme", "patient", "192.0.2.2", t0.Add(time.Second)))
		patient <- answer{res, err}
	}()
	time.Sleep(800 * time.Millisecond) // the batch waits for the lock; hasty's deadline has passed
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]chan answer{"hasty": hasty, "patient": patient} {
		select {
		case a := <-ch:
			if a.err != nil || !a.res.Changed {
				t.Errorf("%s: %+v, %v; want the committed IP change", name, a.res, a.err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: no answer", name)
		}
	}
	if cs := mustChanges(t, s, "acme", hub.AuditQuery{}); len(cs) != 2 {
		t.Fatalf("history %s, want both changes", describe(cs))
	}
}
