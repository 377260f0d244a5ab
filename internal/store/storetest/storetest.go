// Package storetest is the conformance suite every store.Store must pass.
// Each implementation's tests call Run with a constructor that returns a
// fresh, empty store; the same assertions then hold for the embedded store
// and for PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/store"
)

// NewStore returns a fresh, empty store for one test. Cleanup is the
// constructor's business (t.Cleanup).
type NewStore func(t *testing.T) store.Store

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// Run runs the whole conformance suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"FirstHeartbeatCreates", testFirstHeartbeatCreates},
		{"SameIPIsNoChange", testSameIPIsNoChange},
		{"IPChangeIsRecorded", testIPChangeIsRecorded},
		{"TenantsAreIsolated", testTenantsAreIsolated},
		{"ListProxiesFiltersAndPages", testListProxiesFiltersAndPages},
		{"GetProxyNotFound", testGetProxyNotFound},
		{"ConcurrentChangesRecordedOnce", testConcurrentChangesRecordedOnce},
		{"CancelledContextStoresNothing", testCancelledContextStoresNothing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func hb(tenant, name, ip string, at time.Time) store.Heartbeat {
	a := netip.MustParseAddr(ip)
	return store.Heartbeat{TenantID: tenant, Name: name, IP: a, PeerIP: a, At: at, RequestID: "req-" + name}
}

func record(t *testing.T, s store.Store, h store.Heartbeat) store.HeartbeatResult {
	t.Helper()
	res, err := s.RecordHeartbeat(context.Background(), h)
	if err != nil {
		t.Fatalf("RecordHeartbeat(%s, %s, %s): %v", h.TenantID, h.Name, h.IP, err)
	}
	return res
}

func testFirstHeartbeatCreates(t *testing.T, s store.Store) {
	h := hb("acme", "edge-1", "203.0.113.1", t0)
	h.PeerIP = netip.MustParseAddr("10.0.0.1")
	res := record(t, s, h)
	if !res.Created || res.Changed {
		t.Fatalf("first heartbeat: Created=%v Changed=%v, want true,false", res.Created, res.Changed)
	}
	p, err := s.GetProxy(context.Background(), "acme", "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	if p.IP != h.IP || p.PeerIP != h.PeerIP || !p.CreatedAt.Equal(t0) || !p.LastSeen.Equal(t0) || p.IPChanges != 0 {
		t.Fatalf("stored proxy = %+v", p)
	}
}

func testSameIPIsNoChange(t *testing.T, s store.Store) {
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0))
	res := record(t, s, hb("acme", "edge-1", "203.0.113.1", t0.Add(time.Minute)))
	if res.Created || res.Changed {
		t.Fatalf("second heartbeat same IP: Created=%v Changed=%v", res.Created, res.Changed)
	}
	if !res.Proxy.LastSeen.Equal(t0.Add(time.Minute)) || !res.Proxy.CreatedAt.Equal(t0) {
		t.Fatalf("times after update: %+v", res.Proxy)
	}
	changes, err := s.ListIPChanges(context.Background(), "acme", "", 0)
	if err != nil || len(changes) != 0 {
		t.Fatalf("ListIPChanges = %v, %v; want none", changes, err)
	}
}

func testIPChangeIsRecorded(t *testing.T, s store.Store) {
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0))
	h := hb("acme", "edge-1", "2001:db8::7", t0.Add(time.Minute))
	h.TokenID = "tok_1"
	res := record(t, s, h)
	if !res.Changed || res.PreviousIP != netip.MustParseAddr("203.0.113.1") {
		t.Fatalf("change: Changed=%v PreviousIP=%v", res.Changed, res.PreviousIP)
	}
	if res.Proxy.IPChanges != 1 || res.Proxy.IP != h.IP {
		t.Fatalf("proxy after change: %+v", res.Proxy)
	}
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0.Add(2*time.Minute)))
	changes, err := s.ListIPChanges(context.Background(), "acme", "edge-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 {
		t.Fatalf("got %d changes, want 2", len(changes))
	}
	newest, oldest := changes[0], changes[1]
	if newest.NewIP.String() != "203.0.113.1" || oldest.NewIP.String() != "2001:db8::7" || oldest.OldIP.String() != "203.0.113.1" {
		t.Fatalf("changes not newest first or wrong: %+v", changes)
	}
	if oldest.TokenID != "tok_1" || oldest.RequestID != "req-edge-1" || !oldest.At.Equal(t0.Add(time.Minute)) || oldest.TenantID != "acme" {
		t.Fatalf("change record lost details: %+v", oldest)
	}
	if newest.ID <= oldest.ID {
		t.Fatalf("ids not increasing: %d then %d", oldest.ID, newest.ID)
	}
}

func testTenantsAreIsolated(t *testing.T, s store.Store) {
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0))
	res := record(t, s, hb("globex", "edge-1", "198.51.100.1", t0))
	if !res.Created || res.Changed {
		t.Fatalf("same name in another tenant must be a new proxy: %+v", res)
	}
	for tenant, want := range map[string]string{"acme": "203.0.113.1", "globex": "198.51.100.1"} {
		ps, err := s.ListProxies(context.Background(), tenant, store.ProxyQuery{})
		if err != nil || len(ps) != 1 || ps[0].IP.String() != want || ps[0].TenantID != tenant {
			t.Fatalf("ListProxies(%s) = %+v, %v", tenant, ps, err)
		}
	}
	if ps, _ := s.ListProxies(context.Background(), "nobody", store.ProxyQuery{}); len(ps) != 0 {
		t.Fatalf("unknown tenant sees %d proxies", len(ps))
	}
	if c, _ := s.ListIPChanges(context.Background(), "globex", "", 0); len(c) != 0 {
		t.Fatalf("globex sees changes: %+v", c)
	}
}

func testListProxiesFiltersAndPages(t *testing.T, s store.Store) {
	for i, name := range []string{"web-2", "db-1", "web-1", "web-3"} {
		record(t, s, hb("acme", name, fmt.Sprintf("192.0.2.%d", i+1), t0.Add(time.Duration(i)*time.Minute)))
	}
	names := func(ps []store.Proxy) (out []string) {
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	cases := []struct {
		name string
		q    store.ProxyQuery
		want string
	}{
		{"all sorted by name", store.ProxyQuery{}, "[db-1 web-1 web-2 web-3]"},
		{"prefix", store.ProxyQuery{NamePrefix: "web-"}, "[web-1 web-2 web-3]"},
		{"after cursor with limit", store.ProxyQuery{After: "db-1", Limit: 2}, "[web-1 web-2]"},
		{"seen before", store.ProxyQuery{SeenBefore: t0.Add(2 * time.Minute)}, "[db-1 web-2]"},
		{"seen since", store.ProxyQuery{SeenSince: t0.Add(2 * time.Minute)}, "[web-1 web-3]"},
	}
	for _, tc := range cases {
		ps, err := s.ListProxies(context.Background(), "acme", tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(names(ps)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func testGetProxyNotFound(t *testing.T, s store.Store) {
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0))
	for _, c := range [][2]string{{"acme", "edge-2"}, {"globex", "edge-1"}} {
		if _, err := s.GetProxy(context.Background(), c[0], c[1]); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetProxy(%s, %s) err = %v, want ErrNotFound", c[0], c[1], err)
		}
	}
}

// testConcurrentChangesRecordedOnce alternates two IPs from many goroutines:
// every acknowledged change must be in the history exactly once, and the
// history must chain (each change's old IP is the previous change's new IP).
func testConcurrentChangesRecordedOnce(t *testing.T, s store.Store) {
	const workers, each = 8, 25
	record(t, s, hb("acme", "edge-1", "192.0.2.0", t0))
	var mu sync.Mutex
	acked := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				res, err := s.RecordHeartbeat(context.Background(), hb("acme", "edge-1", fmt.Sprintf("192.0.2.%d", (w+i)%2), t0.Add(time.Second)))
				if err != nil {
					t.Error(err)
					return
				}
				if res.Changed {
					mu.Lock()
					acked++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	changes, err := s.ListIPChanges(context.Background(), "acme", "edge-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != acked {
		t.Fatalf("history has %d changes, %d were acknowledged", len(changes), acked)
	}
	for i := 0; i+1 < len(changes); i++ {
		if changes[i].OldIP != changes[i+1].NewIP {
			t.Fatalf("history does not chain at %d: %+v then %+v", i, changes[i+1], changes[i])
		}
	}
	p, _ := s.GetProxy(context.Background(), "acme", "edge-1")
	if p.IPChanges != int64(acked) {
		t.Fatalf("ip_changes = %d, want %d", p.IPChanges, acked)
	}
}

func testCancelledContextStoresNothing(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.RecordHeartbeat(ctx, hb("acme", "edge-1", "203.0.113.1", t0)); err == nil {
		t.Fatal("RecordHeartbeat with a cancelled context succeeded")
	}
	if _, err := s.GetProxy(context.Background(), "acme", "edge-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("proxy stored despite cancelled context: %v", err)
	}
}
