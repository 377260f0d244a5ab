package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

var proxyTests = []suiteTest{
	{"Heartbeat/FirstCreates", testFirstHeartbeatCreates},
	{"Heartbeat/SameIPIsNoChange", testSameIPIsNoChange},
	{"Heartbeat/IPChangeIsRecorded", testIPChangeIsRecorded},
	{"Heartbeat/UnknownTenantFails", testHeartbeatUnknownTenant},
	{"Heartbeat/RegistrationRules", testRegistrationRules},
	{"Heartbeat/TouchesToken", testHeartbeatTouchesToken},
	{"Heartbeat/DeadTokenWritesNothing", testDeadTokenWritesNothing},
	{"Heartbeat/ConcurrentChangesRecordedOnce", testConcurrentChangesRecordedOnce},
	{"Heartbeat/CancelledContextStoresNothing", testCancelledContextStoresNothing},
	{"Proxies/TenantsAreIsolated", testTenantsAreIsolated},
	{"Proxies/ListFiltersAndPages", testListProxiesFiltersAndPages},
	{"Proxies/GetNotFound", testGetProxyNotFound},
	{"Proxies/DeleteKeepsHistory", testDeleteProxyKeepsHistory},
}

func testFirstHeartbeatCreates(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
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
	if p.IP != h.IP || p.PeerIP != h.PeerIP || !p.CreatedAt.Equal(t0) || !p.LastSeen.Equal(t0) || p.IPChanges != 0 || p.TenantID != "acme" {
		t.Fatalf("stored proxy = %+v", p)
	}
}

func testSameIPIsNoChange(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0))
	res := record(t, s, hb("acme", "edge-1", "203.0.113.1", t0.Add(time.Minute)))
	if res.Created || res.Changed {
		t.Fatalf("second heartbeat same IP: Created=%v Changed=%v", res.Created, res.Changed)
	}
	if !res.Proxy.LastSeen.Equal(t0.Add(time.Minute)) || !res.Proxy.CreatedAt.Equal(t0) {
		t.Fatalf("times after update: %+v", res.Proxy)
	}
	if cs := changes(t, s, "acme", hub.AuditQuery{}); len(cs) != 0 {
		t.Fatalf("changes recorded without a change: %+v", cs)
	}
}

func testIPChangeIsRecorded(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	if err := s.CreateToken(context.Background(), hub.Token{ID: "tok_1", TenantID: "acme", Hash: "h-1", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0))
	h := hb("acme", "edge-1", "2001:db8::7", t0.Add(time.Minute))
	h.TokenID = "tok_1"
	res := record(t, s, h)
	if !res.Changed || res.PreviousIP != netip.MustParseAddr("203.0.113.1") || res.ChangeID == 0 {
		t.Fatalf("change: Changed=%v PreviousIP=%v ChangeID=%d", res.Changed, res.PreviousIP, res.ChangeID)
	}
	if res.Proxy.IPChanges != 1 || res.Proxy.IP != h.IP {
		t.Fatalf("proxy after change: %+v", res.Proxy)
	}
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0.Add(2*time.Minute)))
	cs := changes(t, s, "acme", hub.AuditQuery{Proxy: "edge-1"})
	if len(cs) != 2 {
		t.Fatalf("got %d changes, want 2", len(cs))
	}
	newest, oldest := cs[0], cs[1]
	if newest.NewIP.String() != "203.0.113.1" || oldest.NewIP.String() != "2001:db8::7" || oldest.OldIP.String() != "203.0.113.1" {
		t.Fatalf("changes not newest first or wrong: %+v", cs)
	}
	if oldest.ID != res.ChangeID || oldest.TokenID != "tok_1" || oldest.RequestID != "req-edge-1" || !oldest.At.Equal(t0.Add(time.Minute)) || oldest.TenantID != "acme" {
		t.Fatalf("change record lost details: %+v", oldest)
	}
	if newest.ID <= oldest.ID {
		t.Fatalf("ids not increasing: %d then %d", oldest.ID, newest.ID)
	}
}

func testHeartbeatUnknownTenant(t *testing.T, s hub.Store) {
	if _, err := s.RecordHeartbeat(context.Background(), hb("ghost", "edge-1", "203.0.113.1", t0)); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("heartbeat for a tenant that does not exist: %v, want ErrNotFound", err)
	}
}

func testRegistrationRules(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	ctx := context.Background()
	h := hb("acme", "edge-1", "203.0.113.1", t0)
	h.MayCreate = false
	if _, err := s.RecordHeartbeat(ctx, h); !errors.Is(err, hub.ErrNotRegistered) {
		t.Fatalf("creation not allowed: %v, want ErrNotRegistered", err)
	}
	for i := range 2 {
		h := hb("acme", fmt.Sprintf("edge-%d", i), "203.0.113.1", t0)
		h.MaxProxies = 2
		record(t, s, h)
	}
	h = hb("acme", "edge-9", "203.0.113.1", t0)
	h.MaxProxies = 2
	if _, err := s.RecordHeartbeat(ctx, h); !errors.Is(err, hub.ErrQuotaExceeded) {
		t.Fatalf("third proxy with max 2: %v, want ErrQuotaExceeded", err)
	}
	// Existing names keep working at the quota, and need no permission to create.
	h = hb("acme", "edge-1", "203.0.113.2", t0.Add(time.Minute))
	h.MaxProxies, h.MayCreate = 2, false
	if res := record(t, s, h); !res.Changed {
		t.Fatalf("existing proxy at quota: %+v", res)
	}
	if ps, _ := s.ListProxies(ctx, "acme", hub.ProxyQuery{}); len(ps) != 2 {
		t.Fatalf("%d proxies stored, want 2", len(ps))
	}
}

func testHeartbeatTouchesToken(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	ctx := context.Background()
	if err := s.CreateToken(ctx, hub.Token{ID: "tok_a", TenantID: "acme", Label: "cron", Hash: "h-a", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	h := hb("acme", "edge-1", "203.0.113.1", t0.Add(time.Minute))
	h.TokenID = "tok_a"
	record(t, s, h)
	tok, err := s.TokenByHash(ctx, "h-a")
	if err != nil || !tok.LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("token after heartbeat: %+v, %v; want last_used_at set", tok, err)
	}
	// A use a whole TokenTouchInterval later always moves it again.
	later := t0.Add(time.Minute + hub.TokenTouchInterval)
	h = hb("acme", "edge-2", "203.0.113.2", later)
	h.TokenID = "tok_a"
	record(t, s, h)
	if list, err := s.ListTokens(ctx, "acme"); err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(later) {
		t.Fatalf("token after a later heartbeat: %+v, %v; want last_used_at %v", list, err, later)
	}
}

// testDeadTokenWritesNothing: a heartbeat whose token was revoked, has
// expired, is unknown or belongs to another tenant by the time it is
// written fails with ErrTokenRevoked and changes nothing: no proxy is
// created, an existing one keeps its IP and last_seen, no history record.
func testDeadTokenWritesNothing(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex")
	ctx := context.Background()
	for _, tok := range []hub.Token{
		{ID: "tok_live", TenantID: "acme", Hash: "h-live", CreatedAt: t0},
		{ID: "tok_revoked", TenantID: "acme", Hash: "h-revoked", CreatedAt: t0},
		{ID: "tok_expired", TenantID: "acme", Hash: "h-expired", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)},
		{ID: "tok_globex", TenantID: "globex", Hash: "h-globex", CreatedAt: t0},
	} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RevokeToken(ctx, "acme", "tok_revoked", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	first := hb("acme", "edge-1", "192.0.2.1", t0)
	first.TokenID = "tok_live"
	record(t, s, first)
	before, err := s.GetProxy(ctx, "acme", "edge-1")
	if err != nil {
		t.Fatal(err)
	}
	at := t0.Add(2 * time.Hour) // tok_expired has expired
	for _, tc := range []struct{ name, token string }{
		{"revoked", "tok_revoked"},
		{"expired", "tok_expired"},
		{"unknown", "tok_nobody"},
		{"other tenant's", "tok_globex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, name := range []string{"edge-1", "edge-new"} {
				h := hb("acme", name, "198.51.100.9", at)
				h.TokenID = tc.token
				if _, err := s.RecordHeartbeat(ctx, h); !errors.Is(err, hub.ErrTokenRevoked) {
					t.Fatalf("heartbeat of %s with a %s token: %v, want ErrTokenRevoked", name, tc.name, err)
				}
			}
		})
	}
	after, err := s.GetProxy(ctx, "acme", "edge-1")
	if err != nil || after.IP != before.IP || !after.LastSeen.Equal(before.LastSeen) || after.IPChanges != 0 {
		t.Fatalf("proxy after refused heartbeats: %+v, %v; want it as it was: %+v", after, err, before)
	}
	if _, err := s.GetProxy(ctx, "acme", "edge-new"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("a refused heartbeat created a proxy: %v", err)
	}
	if cs := changes(t, s, "acme", hub.AuditQuery{}); len(cs) != 0 {
		t.Fatalf("refused heartbeats left history records: %+v", cs)
	}
}

// testConcurrentChangesRecordedOnce alternates two IPs from many goroutines:
// every acknowledged change must be in the history exactly once, and the
// history must chain (each change's old IP is the previous change's new IP).
func testConcurrentChangesRecordedOnce(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	const workers, each = 8, 25
	record(t, s, hb("acme", "edge-1", "192.0.2.0", t0))
	var mu sync.Mutex
	acked := map[int64]bool{}
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
					acked[res.ChangeID] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	cs := changes(t, s, "acme", hub.AuditQuery{Proxy: "edge-1"})
	if len(cs) != len(acked) {
		t.Fatalf("history has %d changes, %d were acknowledged", len(cs), len(acked))
	}
	for i, c := range cs {
		if !acked[c.ID] {
			t.Fatalf("history has change %d that no caller was told about", c.ID)
		}
		if i+1 < len(cs) && c.OldIP != cs[i+1].NewIP {
			t.Fatalf("history does not chain at %d: %+v then %+v", i, cs[i+1], c)
		}
	}
	p, _ := s.GetProxy(context.Background(), "acme", "edge-1")
	if p.IPChanges != int64(len(acked)) {
		t.Fatalf("ip_changes = %d, want %d", p.IPChanges, len(acked))
	}
}

func testCancelledContextStoresNothing(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.RecordHeartbeat(ctx, hb("acme", "edge-1", "203.0.113.1", t0)); err == nil {
		t.Fatal("RecordHeartbeat with a cancelled context succeeded")
	}
	if _, err := s.GetProxy(context.Background(), "acme", "edge-1"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("proxy stored despite cancelled context: %v", err)
	}
}

func testTenantsAreIsolated(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex", "nobody")
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0))
	record(t, s, hb("acme", "edge-1", "203.0.113.2", t0.Add(time.Minute)))
	res := record(t, s, hb("globex", "edge-1", "198.51.100.1", t0))
	if !res.Created || res.Changed {
		t.Fatalf("same name in another tenant must be a new proxy: %+v", res)
	}
	for tenant, want := range map[string]string{"acme": "203.0.113.2", "globex": "198.51.100.1"} {
		ps, err := s.ListProxies(context.Background(), tenant, hub.ProxyQuery{})
		if err != nil || len(ps) != 1 || ps[0].IP.String() != want || ps[0].TenantID != tenant {
			t.Fatalf("ListProxies(%s) = %+v, %v", tenant, ps, err)
		}
	}
	if ps, _ := s.ListProxies(context.Background(), "nobody", hub.ProxyQuery{}); len(ps) != 0 {
		t.Fatalf("empty tenant sees %d proxies", len(ps))
	}
	if cs := changes(t, s, "globex", hub.AuditQuery{}); len(cs) != 0 {
		t.Fatalf("globex sees acme's changes: %+v", cs)
	}
	if err := s.DeleteProxy(context.Background(), "globex", "edge-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetProxy(context.Background(), "acme", "edge-1"); err != nil {
		t.Fatalf("deleting globex's edge-1 touched acme's: %v", err)
	}
}

func testListProxiesFiltersAndPages(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	for i, name := range []string{"web-2", "db-1", "web-1", "web-3"} {
		record(t, s, hb("acme", name, fmt.Sprintf("192.0.2.%d", i+1), t0.Add(time.Duration(i)*time.Minute)))
	}
	names := func(ps []hub.Proxy) (out []string) {
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	cases := []struct {
		name string
		q    hub.ProxyQuery
		want string
	}{
		{"all sorted by name", hub.ProxyQuery{}, "[db-1 web-1 web-2 web-3]"},
		{"prefix", hub.ProxyQuery{NamePrefix: "web-"}, "[web-1 web-2 web-3]"},
		{"prefix is literal, not a pattern", hub.ProxyQuery{NamePrefix: "w_b%"}, "[]"},
		{"after cursor with limit", hub.ProxyQuery{After: "db-1", Limit: 2}, "[web-1 web-2]"},
		// Deadlines: last heartbeat + 80 s (the tenant's timeout).
		{"deadline before", hub.ProxyQuery{DeadlineBefore: t0.Add(2*time.Minute + 80*time.Second)}, "[db-1 web-2]"},
		{"deadline from", hub.ProxyQuery{DeadlineFrom: t0.Add(2*time.Minute + 80*time.Second)}, "[web-1 web-3]"},
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
	// A proxy's own timeout moves its deadline, and the filters follow.
	if _, err := s.SetOfflineAfter(context.Background(), "acme", "web-3", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(3*time.Minute + 20*time.Second) // web-3: last seen t0+3m, own timeout 10 s
	ps, err := s.ListProxies(context.Background(), "acme", hub.ProxyQuery{DeadlineBefore: at})
	if err != nil || fmt.Sprint(names(ps)) != "[db-1 web-2 web-3]" {
		t.Fatalf("deadline before %v after web-3's timeout became 10 s: %v, %v; want [db-1 web-2 web-3]", at, names(ps), err)
	}
}

func testGetProxyNotFound(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex")
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0))
	for _, c := range [][2]string{{"acme", "edge-2"}, {"globex", "edge-1"}, {"ghost", "edge-1"}} {
		if _, err := s.GetProxy(context.Background(), c[0], c[1]); !errors.Is(err, hub.ErrNotFound) {
			t.Errorf("GetProxy(%s, %s) err = %v, want ErrNotFound", c[0], c[1], err)
		}
	}
}

func testDeleteProxyKeepsHistory(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	ctx := context.Background()
	record(t, s, hb("acme", "edge-1", "203.0.113.1", t0))
	record(t, s, hb("acme", "edge-1", "203.0.113.2", t0.Add(time.Minute)))
	if err := s.DeleteProxy(ctx, "acme", "edge-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProxy(ctx, "acme", "edge-1"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := s.GetProxy(ctx, "acme", "edge-1"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("deleted proxy still there: %v", err)
	}
	if cs := changes(t, s, "acme", hub.AuditQuery{}); len(cs) != 1 {
		t.Fatalf("history after decommission: %d records, want 1 kept", len(cs))
	}
	res := record(t, s, hb("acme", "edge-1", "203.0.113.3", t0.Add(2*time.Minute)))
	if !res.Created || res.Proxy.IPChanges != 0 {
		t.Fatalf("a heartbeat after decommission registers anew: %+v", res)
	}
}
