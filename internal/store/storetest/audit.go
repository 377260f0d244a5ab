package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

var auditTests = []suiteTest{
	{"IPChanges/FiltersAndCursor", testIPChangeFilters},
	{"IPChanges/ScanStopsOnError", testScanStopsOnError},
	{"IPChanges/Stats", testIPChangeStats},
	{"Denied/RecordAndFilter", testDenied},
	{"History/PruneDeletesOnlyWhatIsOld", testPruneHistory},
}

// historySizes counts a tenant's IP changes, denied records and events.
func historySizes(t *testing.T, s hub.Store, tenant string) (changes, denied, events int) {
	t.Helper()
	ctx := context.Background()
	cs, err := CollectIPChanges(ctx, s, tenant, hub.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := CollectDenied(ctx, s, tenant, hub.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.ScanEvents(ctx, tenant, hub.EventQuery{}, func(hub.Event) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return len(cs), len(ds), n
}

// testPruneHistory: history older than the cut-off goes, across tenants,
// at most maxRows per kind a call; younger history, proxies and everything
// else stay; a cut-off within MinRetention is refused and deletes nothing.
func testPruneHistory(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex")
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	old, recent := now.Add(-40*24*time.Hour), now.Add(-2*time.Hour)
	for _, tenant := range []string{"acme", "globex"} {
		record(t, s, hb(tenant, "edge-1", "192.0.2.1", old))                  // registered (event)
		record(t, s, hb(tenant, "edge-1", "192.0.2.2", old.Add(time.Minute))) // change + event
		record(t, s, hb(tenant, "edge-1", "192.0.2.3", recent))               // change + event
		for _, at := range []time.Time{old, recent} {
			if _, err := s.RecordDenied(ctx, hub.Denied{TenantID: tenant, Proxy: "edge-9", IP: netip.MustParseAddr("198.51.100.1"), At: at, Reason: "source_ip_not_allowed"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	c0, d0, e0 := historySizes(t, s, "acme")

	if n, err := s.PruneHistory(ctx, now.Add(-time.Hour), 0); err == nil || n != 0 {
		t.Fatalf("PruneHistory within MinRetention: %d, %v; want an error and nothing deleted", n, err)
	}
	if c, d, e := historySizes(t, s, "acme"); c != c0 || d != d0 || e != e0 {
		t.Fatalf("a refused prune changed the history: %d/%d/%d, was %d/%d/%d", c, d, e, c0, d0, e0)
	}

	// One record of each kind at most, across tenants.
	n1, err := s.PruneHistory(ctx, now.Add(-30*24*time.Hour), 1)
	if err != nil || n1 < 1 || n1 > 3 {
		t.Fatalf("PruneHistory(max 1): %d, %v; want 1 to 3 records (one of each kind at most)", n1, err)
	}
	n2, err := s.PruneHistory(ctx, now.Add(-30*24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{"acme", "globex"} {
		cs := changes(t, s, tenant, hub.AuditQuery{})
		if len(cs) != 1 || !cs[0].At.Equal(recent) {
			t.Fatalf("%s's IP changes after the prune: %+v; want only the recent one", tenant, cs)
		}
		ds, _ := CollectDenied(ctx, s, tenant, hub.AuditQuery{})
		if len(ds) != 1 || !ds[0].At.Equal(recent) {
			t.Fatalf("%s's denied records after the prune: %+v; want only the recent one", tenant, ds)
		}
		if err := s.ScanEvents(ctx, tenant, hub.EventQuery{}, func(e hub.Event) error {
			if e.At.Before(now.Add(-30 * 24 * time.Hour)) {
				t.Errorf("%s kept an old event: %+v", tenant, e)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if p, err := s.GetProxy(ctx, tenant, "edge-1"); err != nil || p.IPChanges != 2 || p.IP.String() != "192.0.2.3" {
			t.Fatalf("%s's proxy after the prune: %+v, %v; want it untouched", tenant, p, err)
		}
	}
	c1, d1, e1 := historySizes(t, s, "acme")
	if got, want := n1+n2, int64(2*((c0-c1)+(d0-d1)+(e0-e1))); got != want {
		t.Fatalf("PruneHistory reported %d deletions, %d records went", got, want)
	}
	if n, err := s.PruneHistory(ctx, now.Add(-30*24*time.Hour), 0); err != nil || n != 0 {
		t.Fatalf("a second prune: %d, %v; want nothing left to delete", n, err)
	}
}

// changeHistory makes 6 changes: edge-1 .1→.2→.3→.1 and edge-2 .7→.8→.9,
// one minute apart, in this order.
func changeHistory(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex")
	at := t0
	beat := func(name, ip string) {
		record(t, s, hb("acme", name, ip, at))
		at = at.Add(time.Minute)
	}
	beat("edge-1", "192.0.2.1")
	beat("edge-2", "192.0.2.7")
	beat("edge-1", "192.0.2.2")
	beat("edge-2", "192.0.2.8")
	beat("edge-1", "192.0.2.3")
	beat("edge-2", "192.0.2.9")
	beat("edge-1", "192.0.2.1")
	record(t, s, hb("globex", "edge-1", "192.0.2.1", t0))
	record(t, s, hb("globex", "edge-1", "192.0.2.2", t0.Add(time.Minute)))
}

func describe(cs []hub.IPChange) string {
	out := ""
	for _, c := range cs {
		out += fmt.Sprintf("%s:%s>%s ", c.Proxy, c.OldIP, c.NewIP)
	}
	return out
}

func testIPChangeFilters(t *testing.T, s hub.Store) {
	changeHistory(t, s)
	all := changes(t, s, "acme", hub.AuditQuery{})
	if len(all) != 5 {
		t.Fatalf("acme has %d changes, want 5: %s", len(all), describe(all))
	}
	cases := []struct {
		name string
		q    hub.AuditQuery
		want string
	}{
		{"newest first", hub.AuditQuery{Limit: 2}, "edge-1:192.0.2.3>192.0.2.1 edge-2:192.0.2.8>192.0.2.9 "},
		{"one proxy", hub.AuditQuery{Proxy: "edge-2"}, "edge-2:192.0.2.8>192.0.2.9 edge-2:192.0.2.7>192.0.2.8 "},
		{"ip as old or new", hub.AuditQuery{IP: netip.MustParseAddr("192.0.2.1")}, "edge-1:192.0.2.3>192.0.2.1 edge-1:192.0.2.1>192.0.2.2 "},
		{"since", hub.AuditQuery{Since: t0.Add(5 * time.Minute)}, "edge-1:192.0.2.3>192.0.2.1 edge-2:192.0.2.8>192.0.2.9 "},
		{"until is exclusive", hub.AuditQuery{Until: t0.Add(3 * time.Minute)}, "edge-1:192.0.2.1>192.0.2.2 "},
		{"cursor", hub.AuditQuery{BeforeID: all[1].ID, Limit: 2}, describe(all[2:4])},
		{"cursor past the end", hub.AuditQuery{BeforeID: all[4].ID}, ""},
		{"no match", hub.AuditQuery{Proxy: "edge-9"}, ""},
	}
	for _, tc := range cases {
		if got := describe(changes(t, s, "acme", tc.q)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if g := changes(t, s, "globex", hub.AuditQuery{}); len(g) != 1 || g[0].TenantID != "globex" {
		t.Fatalf("globex history: %s", describe(g))
	}
}

func testScanStopsOnError(t *testing.T, s hub.Store) {
	changeHistory(t, s)
	stop := errors.New("enough")
	n := 0
	err := s.ScanIPChanges(context.Background(), "acme", hub.AuditQuery{}, func(hub.IPChange) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("scan returned %v after %d records, want the callback's error after 2", err, n)
	}
}

func testIPChangeStats(t *testing.T, s hub.Store) {
	changeHistory(t, s)
	st, err := s.IPChangeStats(context.Background(), "acme", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := "[{edge-1 3 3 2026-11-28 09:06:00 +0000 UTC} {edge-2 2 2 2026-11-28 09:05:00 +0000 UTC}]"
	if got := fmt.Sprint(st); got != want {
		t.Fatalf("stats = %s, want %s", got, want)
	}
	st, _ = s.IPChangeStats(context.Background(), "acme", t0.Add(4*time.Minute), t0.Add(6*time.Minute))
	if got := fmt.Sprint(st); got != "[{edge-1 1 1 2026-11-28 09:04:00 +0000 UTC} {edge-2 1 1 2026-11-28 09:05:00 +0000 UTC}]" {
		t.Fatalf("windowed stats = %s", got)
	}
}

func testDenied(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex")
	ctx := context.Background()
	var ids []int64
	for i, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.1"} {
		id, err := s.RecordDenied(ctx, hub.Denied{TenantID: "acme", Proxy: fmt.Sprintf("edge-%d", i%2), IP: netip.MustParseAddr(ip),
			At: t0.Add(time.Duration(i) * time.Minute), TokenID: "tok_1", RequestID: "r", Reason: "source_ip_not_allowed"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if ids[0] >= ids[1] || ids[1] >= ids[2] {
		t.Fatalf("ids not increasing: %v", ids)
	}
	all, err := CollectDenied(ctx, s, "acme", hub.AuditQuery{})
	if err != nil || len(all) != 3 || all[0].ID != ids[2] || all[2].Reason != "source_ip_not_allowed" || all[2].TokenID != "tok_1" {
		t.Fatalf("denied = %+v, %v", all, err)
	}
	byIP, _ := CollectDenied(ctx, s, "acme", hub.AuditQuery{IP: netip.MustParseAddr("198.51.100.1"), Proxy: "edge-0"})
	if len(byIP) != 2 {
		t.Fatalf("filter by ip+proxy: %+v", byIP)
	}
	if g, _ := CollectDenied(ctx, s, "globex", hub.AuditQuery{}); len(g) != 0 {
		t.Fatalf("globex sees acme's denied records")
	}
}
