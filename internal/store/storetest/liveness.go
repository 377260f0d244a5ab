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

// LiveStore is a store with the liveness and webhook parts.
type LiveStore interface {
	hub.Store
	hub.LivenessStore
	hub.WebhookStore
}

// NewLiveStore returns a fresh, empty LiveStore for one test.
type NewLiveStore func(t *testing.T) LiveStore

// RunLiveness runs the liveness, event and webhook conformance tests.
func RunLiveness(t *testing.T, newStore NewLiveStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, LiveStore)
	}{
		{"Deadline/FollowsTenantAndOverride", testDeadlines},
		{"Expire/FlipsAtTheDeadlineOnce", testExpireFlipsOnce},
		{"Expire/OnlyWhatIsDueAndLimit", testExpireLimit},
		{"Expire/ConcurrentSweepersNoDoubleFlip", testConcurrentSweepers},
		{"Expire/TenantTimeoutChangeMovesDeadlines", testTenantTimeoutChange},
		{"Pause/NoFlipsUntilResumed", testPause},
		{"Events/StreamOfEveryType", testEventTypes},
		{"Events/FiltersAndCursors", testEventFilters},
		{"Events/WatchWakesOnAppend", testWatch},
		{"Webhooks/CRUDAndIsolation", testWebhookCRUD},
		{"Webhooks/DueAndDeliveryState", testWebhookDue},
		{"Fleet/CountsPerTenant", testFleetCounts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func liveTenant(t *testing.T, s LiveStore, id string, timeout time.Duration) {
	t.Helper()
	ten := tenant(id)
	ten.OfflineAfter = timeout
	if err := s.CreateTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
}

func testDeadlines(t *testing.T, s LiveStore) {
	liveTenant(t, s, "acme", time.Minute)
	res := record(t, s, hb("acme", "edge-1", "192.0.2.1", t0))
	if res.Proxy.State != hub.StateOnline || !res.Proxy.Deadline.Equal(t0.Add(time.Minute)) {
		t.Fatalf("after first heartbeat: state %q deadline %v", res.Proxy.State, res.Proxy.Deadline)
	}
	p, err := s.SetOfflineAfter(context.Background(), "acme", "edge-1", 10*time.Second)
	if err != nil || p.OfflineAfter != 10*time.Second || !p.Deadline.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("override: %+v %v", p, err)
	}
	res = record(t, s, hb("acme", "edge-1", "192.0.2.1", t0.Add(time.Second)))
	if !res.Proxy.Deadline.Equal(t0.Add(11 * time.Second)) {
		t.Fatalf("deadline with override after a heartbeat: %v", res.Proxy.Deadline)
	}
	if p, _ = s.SetOfflineAfter(context.Background(), "acme", "edge-1", 0); !p.Deadline.Equal(t0.Add(61 * time.Second)) {
		t.Fatalf("cleared override: %v", p.Deadline)
	}
	if _, err := s.SetOfflineAfter(context.Background(), "acme", "nope", time.Second); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("missing proxy: %v", err)
	}
}

func testExpireFlipsOnce(t *testing.T, s LiveStore) {
	ctx := context.Background()
	liveTenant(t, s, "acme", 80*time.Second)
	record(t, s, hb("acme", "edge-1", "192.0.2.1", t0))
	if next, _ := s.NextDeadline(ctx); next.IsZero() || next.After(t0.Add(80*time.Second)) {
		t.Fatalf("NextDeadline = %v", next)
	}
	if evs, _ := s.ExpireProxies(ctx, t0.Add(80*time.Second), 0); len(evs) != 0 {
		t.Fatalf("flipped before the deadline: %+v", evs)
	}
	evs, err := s.ExpireProxies(ctx, t0.Add(95*time.Second), 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("expire: %+v %v", evs, err)
	}
	if e := evs[0]; e.Type != hub.EventOffline || !e.At.Equal(t0.Add(80*time.Second)) || e.Proxy != "edge-1" || e.TenantID != "acme" {
		t.Fatalf("offline event %+v: At must be the deadline, not the sweep time", e)
	}
	if again, _ := s.ExpireProxies(ctx, t0.Add(time.Hour), 0); len(again) != 0 {
		t.Fatalf("flipped twice: %+v", again)
	}
	p, _ := s.GetProxy(ctx, "acme", "edge-1")
	if p.State != hub.StateOffline {
		t.Fatalf("state %q", p.State)
	}
	res := record(t, s, hb("acme", "edge-1", "192.0.2.1", t0.Add(2*time.Minute)))
	if !res.CameOnline || res.Proxy.State != hub.StateOnline {
		t.Fatalf("heartbeat after offline: %+v", res)
	}
	if res = record(t, s, hb("acme", "edge-1", "192.0.2.1", t0.Add(3*time.Minute))); res.CameOnline {
		t.Fatal("CameOnline on an online proxy")
	}
}

func testExpireLimit(t *testing.T, s LiveStore) {
	ctx := context.Background()
	liveTenant(t, s, "acme", time.Minute)
	liveTenant(t, s, "globex", 2*time.Minute)
	for i := range 5 {
		record(t, s, hb("acme", fmt.Sprintf("a-%d", i), "192.0.2.1", t0.Add(time.Duration(i)*time.Second)))
		record(t, s, hb("globex", fmt.Sprintf("g-%d", i), "192.0.2.1", t0))
	}
	record(t, s, hb("acme", "a-4", "192.0.2.1", t0.Add(30*time.Second))) // heartbeat moves a-4 on
	evs, err := s.ExpireProxies(ctx, t0.Add(62*time.Second+500*time.Millisecond), 2)
	if err != nil || len(evs) != 2 || evs[0].Proxy != "a-0" || evs[1].Proxy != "a-1" {
		t.Fatalf("limit 2, earliest first: %+v %v", evs, err)
	}
	evs, _ = s.ExpireProxies(ctx, t0.Add(62*time.Second+500*time.Millisecond), 0)
	if len(evs) != 1 || evs[0].Proxy != "a-2" {
		t.Fatalf("the rest due by +62.5s: %+v", evs)
	}
	evs, _ = s.ExpireProxies(ctx, t0.Add(125*time.Second), 0)
	if len(evs) != 7 {
		t.Fatalf("at +125s: %d flips, want a-3, a-4 and 5 globex", len(evs))
	}
}

func testConcurrentSweepers(t *testing.T, s LiveStore) {
	ctx := context.Background()
	liveTenant(t, s, "acme", time.Minute)
	const n = 200
	for i := range n {
		record(t, s, hb("acme", fmt.Sprintf("edge-%03d", i), "192.0.2.1", t0))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				evs, err := s.ExpireProxies(ctx, t0.Add(2*time.Minute), 17)
				if err != nil {
					t.Error(err)
					return
				}
				if len(evs) == 0 {
					return
				}
				mu.Lock()
				for _, e := range evs {
					seen[e.Proxy]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d proxies flipped, want %d", len(seen), n)
	}
	for p, c := range seen {
		if c != 1 {
			t.Fatalf("%s flipped %d times", p, c)
		}
	}
	var offline int
	_ = s.ScanEvents(ctx, "acme", hub.EventQuery{Types: []hub.EventType{hub.EventOffline}}, func(hub.Event) error { offline++; return nil })
	if offline != n {
		t.Fatalf("%d offline events, want %d", offline, n)
	}
}

func testTenantTimeoutChange(t *testing.T, s LiveStore) {
	ctx := context.Background()
	liveTenant(t, s, "acme", 10*time.Minute)
	record(t, s, hb("acme", "edge-1", "192.0.2.1", t0))
	record(t, s, hb("acme", "edge-2", "192.0.2.1", t0))
	if _, err := s.SetOfflineAfter(ctx, "acme", "edge-2", time.Hour); err != nil {
		t.Fatal(err)
	}
	ten, _ := s.GetTenant(ctx, "acme")
	ten.OfflineAfter = 30 * time.Second
	if err := s.UpdateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	evs, _ := s.ExpireProxies(ctx, t0.Add(time.Minute), 0)
	if len(evs) != 1 || evs[0].Proxy != "edge-1" || !evs[0].At.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after shortening the tenant timeout: %+v (edge-2 keeps its own)", evs)
	}
}

func testPause(t *testing.T, s LiveStore) {
	ctx := context.Background()
	liveTenant(t, s, "acme", time.Minute)
	record(t, s, hb("acme", "edge-1", "192.0.2.1", t0))
	p, err := s.SetPaused(ctx, "acme", "edge-1", true, t0.Add(10*time.Second))
	if err != nil || !p.Paused {
		t.Fatalf("pause: %+v %v", p, err)
	}
	if evs, _ := s.ExpireProxies(ctx, t0.Add(time.Hour), 0); len(evs) != 0 {
		t.Fatalf("paused proxy flipped: %+v", evs)
	}
	record(t, s, hb("acme", "edge-1", "192.0.2.1", t0.Add(2*time.Hour))) // heartbeats do not resume
	if p, _ := s.GetProxy(ctx, "acme", "edge-1"); !p.Paused {
		t.Fatal("a heartbeat resumed a paused proxy")
	}
	resumeAt := t0.Add(3 * time.Hour)
	p, _ = s.SetPaused(ctx, "acme", "edge-1", false, resumeAt)
	if p.Paused || !p.Deadline.Equal(resumeAt.Add(time.Minute)) {
		t.Fatalf("resume: %+v, want deadline one timeout after resuming", p)
	}
	evs, _ := s.ExpireProxies(ctx, resumeAt.Add(2*time.Minute), 0)
	if len(evs) != 1 || !evs[0].At.Equal(resumeAt.Add(time.Minute)) {
		t.Fatalf("after resume: %+v", evs)
	}
}

func testEventTypes(t *testing.T, s LiveStore) {
	ctx := context.Background()
	liveTenant(t, s, "acme", time.Minute)
	record(t, s, hb("acme", "edge-1", "192.0.2.1", t0))
	record(t, s, hb("acme", "edge-1", "192.0.2.2", t0.Add(10*time.Second)))
	if _, err := s.ExpireProxies(ctx, t0.Add(2*time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	record(t, s, hb("acme", "edge-1", "192.0.2.2", t0.Add(3*time.Minute)))
	if _, err := s.RecordDenied(ctx, hub.Denied{TenantID: "acme", Proxy: "edge-1", IP: netip.MustParseAddr("198.51.100.9"), At: t0.Add(4 * time.Minute), Reason: "source_ip_not_allowed"}); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := s.ScanEvents(ctx, "acme", hub.EventQuery{Ascending: true}, func(e hub.Event) error {
		got = append(got, fmt.Sprintf("%s@%s:%s>%s", e.Type, e.At.Sub(t0), ipStr(e.OldIP), ipStr(e.NewIP)))
		return nil
	})
	want := "[registered@0s:->192.0.2.1 ip_changed@10s:192.0.2.1>192.0.2.2 offline@1m10s:->192.0.2.2 online@3m0s:->192.0.2.2 denied@4m0s:->198.51.100.9]"
	if err != nil || fmt.Sprint(got) != want {
		t.Fatalf("events\n got %v\nwant %s", got, want)
	}
}

func ipStr(a netip.Addr) string {
	if !a.IsValid() {
		return "-"
	}
	return a.String()
}

func testEventFilters(t *testing.T, s LiveStore) {
	liveTenant(t, s, "acme", time.Minute)
	liveTenant(t, s, "globex", time.Minute)
	for i := range 4 {
		record(t, s, hb("acme", fmt.Sprintf("edge-%d", i%2), fmt.Sprintf("192.0.2.%d", i), t0.Add(time.Duration(i)*time.Second)))
	}
	record(t, s, hb("globex", "edge-0", "192.0.2.1", t0))
	all := collectEvents(t, s, "acme", hub.EventQuery{})
	if len(all) != 4 || all[0].ID < all[3].ID {
		t.Fatalf("newest first: %+v", all)
	}
	cases := []struct {
		name string
		q    hub.EventQuery
		want int
	}{
		{"type", hub.EventQuery{Types: []hub.EventType{hub.EventIPChanged}}, 2},
		{"two types", hub.EventQuery{Types: []hub.EventType{hub.EventIPChanged, hub.EventRegistered}}, 4},
		{"proxy", hub.EventQuery{Proxy: "edge-1"}, 2},
		{"since", hub.EventQuery{Since: t0.Add(2 * time.Second)}, 2},
		{"until", hub.EventQuery{Until: t0.Add(2 * time.Second)}, 2},
		{"after id ascending", hub.EventQuery{AfterID: all[2].ID, Ascending: true}, 2},
		{"before id", hub.EventQuery{BeforeID: all[1].ID, Limit: 1}, 1},
		{"limit", hub.EventQuery{Limit: 3}, 3},
	}
	for _, tc := range cases {
		if got := collectEvents(t, s, "acme", tc.q); len(got) != tc.want {
			t.Errorf("%s: %d events, want %d", tc.name, len(got), tc.want)
		}
	}
	asc := collectEvents(t, s, "acme", hub.EventQuery{AfterID: all[2].ID, Ascending: true})
	if asc[0].ID != all[1].ID || asc[1].ID != all[0].ID {
		t.Fatalf("ascending order: %+v", asc)
	}
	if g := collectEvents(t, s, "globex", hub.EventQuery{}); len(g) != 1 || g[0].TenantID != "globex" {
		t.Fatalf("globex: %+v", g)
	}
}

func collectEvents(t *testing.T, s LiveStore, tenant string, q hub.EventQuery) []hub.Event {
	t.Helper()
	var out []hub.Event
	if err := s.ScanEvents(context.Background(), tenant, q, func(e hub.Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func testWatch(t *testing.T, s LiveStore) {
	liveTenant(t, s, "acme", time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	woke := make(chan string, 16)
	go func() { _ = s.WatchEvents(ctx, func(id string) { woke <- id }) }()
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		record(t, s, hb("acme", fmt.Sprintf("edge-%d", i), "192.0.2.1", t0))
		select {
		case id := <-woke:
			if id != "acme" {
				t.Fatalf("woke for %q", id)
			}
			return
		case <-time.After(200 * time.Millisecond): // the watch may still be subscribing
		case <-deadline:
			t.Fatal("no wake-up after appending events")
		}
	}
}

func testWebhookCRUD(t *testing.T, s LiveStore) {
	ctx := context.Background()
	liveTenant(t, s, "acme", time.Minute)
	liveTenant(t, s, "globex", time.Minute)
	record(t, s, hb("acme", "edge-1", "192.0.2.1", t0))
	w, err := s.CreateWebhook(ctx, hub.Webhook{ID: "wh_1", TenantID: "acme", Kind: "generic", URL: "https://example.com/hook",
		Events: []hub.EventType{hub.EventOffline}, Enabled: true, Secret: "whsec_x", CreatedAt: t0, UpdatedAt: t0,
		Settings: map[string]string{"chat_id": "-100123", "region": "eu"}})
	if err != nil {
		t.Fatal(err)
	}
	latest := collectEvents(t, s, "acme", hub.EventQuery{Limit: 1})[0].ID
	if w.Cursor < latest {
		t.Fatalf("new webhook cursor %d is before the newest event %d: history would be replayed", w.Cursor, latest)
	}
	got, err := s.GetWebhook(ctx, "acme", "wh_1")
	if err != nil || got.Secret != "whsec_x" || got.URL != w.URL || len(got.Events) != 1 {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, err := s.GetWebhook(ctx, "globex", "wh_1"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("cross-tenant get: %v", err)
	}
	if got.Settings["chat_id"] != "-100123" || got.Settings["region"] != "eu" || len(got.Settings) != 2 {
		t.Fatalf("settings not kept: %v", got.Settings)
	}
	got.URL, got.Enabled, got.Secret = "https://example.com/other", false, "changed?"
	got.Settings = map[string]string{"chat_id": "42"}
	up, err := s.UpdateWebhook(ctx, got)
	if err != nil || up.URL != "https://example.com/other" || up.Enabled || up.Secret != "whsec_x" || len(up.Settings) != 1 || up.Settings["chat_id"] != "42" {
		t.Fatalf("update: %+v %v (the secret is not updatable)", up, err)
	}
	if l, err := s.ListWebhooks(ctx, "acme"); err != nil || len(l) != 1 || l[0].Settings["chat_id"] != "42" {
		t.Fatalf("list after update: %+v %v", l, err)
	}
	// SetWebhookSecret changes the secrets and nothing else.
	until := t0.Add(time.Hour)
	rot := up
	rot.Secret, rot.PreviousSecret, rot.PreviousSecretUntil, rot.UpdatedAt, rot.URL = "sealed-new", "sealed-old", until, t0.Add(time.Second), "https://ignored.example"
	if _, err := s.SetWebhookSecret(ctx, hub.Webhook{ID: "wh_1", TenantID: "globex", Secret: "x"}); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("cross-tenant secret change: %v", err)
	}
	if _, err := s.SetWebhookSecret(ctx, rot); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetWebhook(ctx, "acme", "wh_1")
	if err != nil || got.Secret != "sealed-new" || got.PreviousSecret != "sealed-old" || !got.PreviousSecretUntil.Equal(until) ||
		!got.UpdatedAt.Equal(t0.Add(time.Second)) || got.URL != "https://example.com/other" {
		t.Fatalf("after SetWebhookSecret: %+v %v", got, err)
	}
	rot.PreviousSecret, rot.PreviousSecretUntil = "", time.Time{}
	if got, err = s.SetWebhookSecret(ctx, rot); err != nil || got.PreviousSecret != "" || !got.PreviousSecretUntil.IsZero() {
		t.Fatalf("clearing the previous secret: %+v %v", got, err)
	}
	if l, _ := s.ListWebhooks(ctx, "globex"); len(l) != 0 {
		t.Fatal("globex lists acme's webhooks")
	}
	if err := s.DeleteWebhook(ctx, "globex", "wh_1"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("cross-tenant delete: %v", err)
	}
	if err := s.DeleteWebhook(ctx, "acme", "wh_1"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.ListWebhooks(ctx, "acme"); len(l) != 0 {
		t.Fatal("deleted webhook still listed")
	}
}

func testWebhookDue(t *testing.T, s LiveStore) {
	ctx := context.Background()
	liveTenant(t, s, "acme", time.Minute)
	w, err := s.CreateWebhook(ctx, hub.Webhook{ID: "wh_1", TenantID: "acme", Kind: "generic", URL: "https://example.com/hook", Enabled: true, CreatedAt: t0, UpdatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueWebhooks(ctx, t0); len(due) != 0 {
		t.Fatalf("due without new events: %+v", due)
	}
	record(t, s, hb("acme", "edge-1", "192.0.2.1", t0))
	due, _ := s.DueWebhooks(ctx, t0)
	if len(due) != 1 || due[0].ID != "wh_1" {
		t.Fatalf("due after an event: %+v", due)
	}
	w.Attempt, w.NextAttemptAt, w.FailingSince = 2, t0.Add(time.Minute), t0
	if err := s.SaveDeliveryState(ctx, w); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueWebhooks(ctx, t0.Add(30*time.Second)); len(due) != 0 {
		t.Fatal("due before NextAttemptAt")
	}
	if due, _ := s.DueWebhooks(ctx, t0.Add(time.Minute)); len(due) != 1 || due[0].Attempt != 2 || !due[0].FailingSince.Equal(t0) {
		t.Fatalf("state not kept: %+v", due)
	}
	latest := collectEvents(t, s, "acme", hub.EventQuery{Limit: 1})[0].ID
	w.Cursor, w.Attempt, w.NextAttemptAt, w.FailingSince = latest, 0, time.Time{}, time.Time{}
	if err := s.SaveDeliveryState(ctx, w); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueWebhooks(ctx, t0.Add(time.Hour)); len(due) != 0 {
		t.Fatal("due after delivering everything")
	}
	for i := range 3 {
		if _, err := s.RecordDelivery(ctx, hub.Delivery{TenantID: "acme", WebhookID: "wh_1", At: t0.Add(time.Duration(i) * time.Second), Attempt: i + 1, StatusCode: 500, Error: "boom", Events: 1}); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.ListDeliveries(ctx, "acme", "wh_1", 0, 2)
	if err != nil || len(ds) != 2 || ds[0].Attempt != 3 || ds[0].StatusCode != 500 || ds[0].Error != "boom" {
		t.Fatalf("deliveries: %+v %v", ds, err)
	}
	older, _ := s.ListDeliveries(ctx, "acme", "wh_1", ds[1].ID, 10)
	if len(older) != 1 || older[0].Attempt != 1 {
		t.Fatalf("older page: %+v", older)
	}
	if _, err := s.RecordDelivery(ctx, hub.Delivery{TenantID: "acme", WebhookID: "wh_gone"}); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("delivery for a missing webhook: %v", err)
	}
}

func testFleetCounts(t *testing.T, s LiveStore) {
	ctx := context.Background()
	liveTenant(t, s, "acme", time.Minute)
	liveTenant(t, s, "globex", time.Minute)
	liveTenant(t, s, "empty", time.Minute)
	for _, n := range []string{"a", "b", "c", "d"} {
		record(t, s, hb("acme", n, "192.0.2.1", t0))
	}
	record(t, s, hb("acme", "late", "192.0.2.1", t0.Add(-2*time.Minute))) // deadline passed, not swept yet
	record(t, s, hb("globex", "g", "192.0.2.9", t0))
	if _, err := s.SetPaused(ctx, "acme", "d", true, t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.FleetCounts(ctx, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := []hub.FleetCount{{TenantID: "acme", Online: 3, Offline: 1, Paused: 1}, {TenantID: "empty"}, {TenantID: "globex", Online: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("FleetCounts = %+v, want %+v", got, want)
	}

	// Notifications: a webhook with nothing pending, one with events after
	// its cursor and failing, a disabled one (not counted).
	for _, w := range []hub.Webhook{
		{ID: "wh_1", TenantID: "acme", Kind: "slack", URL: "https://example.com/a", Enabled: true, CreatedAt: t0, UpdatedAt: t0},
		{ID: "wh_2", TenantID: "acme", Kind: "generic", URL: "https://example.com/b", Enabled: true, CreatedAt: t0, UpdatedAt: t0},
		{ID: "wh_3", TenantID: "acme", Kind: "generic", URL: "https://example.com/c", Enabled: false, CreatedAt: t0, UpdatedAt: t0},
	} {
		if _, err := s.CreateWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := s.NotificationCounts(ctx)
	if err != nil || len(nc) != 2 || nc[0].Pending+nc[1].Pending != 0 {
		t.Fatalf("NotificationCounts before new events = %+v, %v", nc, err)
	}
	record(t, s, hb("acme", "new", "192.0.2.2", t0.Add(5*time.Second)))
	w2, err := s.GetWebhook(ctx, "acme", "wh_2")
	if err != nil {
		t.Fatal(err)
	}
	w2.Attempt, w2.FailingSince = 1, t0.Add(6*time.Second)
	if err := s.SaveDeliveryState(ctx, w2); err != nil {
		t.Fatal(err)
	}
	nc, err = s.NotificationCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want2 := []hub.NotificationCount{
		{TenantID: "acme", Kind: "generic", Pending: 1, Failing: 1, OldestPending: t0.Add(5 * time.Second)},
		{TenantID: "acme", Kind: "slack", Pending: 1, OldestPending: t0.Add(5 * time.Second)},
	}
	if len(nc) != 2 || fmt.Sprint(nc[0].TenantID, nc[0].Kind, nc[0].Pending, nc[0].Failing, nc[1].Kind, nc[1].Pending, nc[1].Failing) !=
		fmt.Sprint(want2[0].TenantID, want2[0].Kind, want2[0].Pending, want2[0].Failing, want2[1].Kind, want2[1].Pending, want2[1].Failing) ||
		!nc[0].OldestPending.Equal(want2[0].OldestPending) || !nc[1].OldestPending.Equal(want2[1].OldestPending) {
		t.Fatalf("NotificationCounts = %+v, want %+v", nc, want2)
	}
}
