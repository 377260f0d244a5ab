package storetest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

var maintenanceTests = []suiteTest{
	{"Maintenance/CreateListTimesDelete", testMaintenanceWindows},
}

func testMaintenanceWindows(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex")
	ctx := context.Background()
	oneOff := hub.MaintenanceWindow{ID: "mw_1", TenantID: "acme", Label: "db upgrade", Proxy: "db-1",
		Start: t0, End: t0.Add(time.Hour), CreatedAt: t0, FollowedUpTo: t0}
	weekly := hub.MaintenanceWindow{ID: "mw_2", TenantID: "acme", Pattern: "edge-*", Cron: "0 2 * * 6", Duration: 90 * time.Minute,
		TimeZone: "Europe/Berlin", CreatedAt: t0.Add(time.Second), FollowedUpTo: t0.Add(time.Second)}
	for _, w := range []hub.MaintenanceWindow{oneOff, weekly} {
		if err := s.CreateWindow(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateWindow(ctx, hub.MaintenanceWindow{ID: "mw_3", TenantID: "nobody", CreatedAt: t0}); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("window of an unknown tenant: %v", err)
	}
	ws, err := s.ListWindows(ctx, "acme")
	if err != nil || len(ws) != 2 {
		t.Fatalf("ListWindows = %+v, %v", ws, err)
	}
	if g := ws[0]; g.ID != "mw_1" || g.Proxy != "db-1" || !g.Start.Equal(t0) || !g.End.Equal(t0.Add(time.Hour)) || g.Label != "db upgrade" || !g.EndedAt.IsZero() {
		t.Errorf("one-off window read back as %+v", g)
	}
	if g := ws[1]; g.Pattern != "edge-*" || g.Cron != "0 2 * * 6" || g.Duration != 90*time.Minute || g.TimeZone != "Europe/Berlin" || !g.Start.IsZero() {
		t.Errorf("recurring window read back as %+v", g)
	}
	if l, err := s.ListWindows(ctx, "globex"); err != nil || len(l) != 0 {
		t.Fatalf("globex sees acme's windows: %v %v", l, err)
	}
	ended := ws[0]
	ended.EndedAt, ended.FollowedUpTo = t0.Add(10*time.Minute), t0.Add(10*time.Minute)
	ended.Label = "not stored by SetWindowTimes"
	if err := s.SetWindowTimes(ctx, ended); err != nil {
		t.Fatal(err)
	}
	if err := s.SetWindowTimes(ctx, hub.MaintenanceWindow{ID: "mw_1", TenantID: "globex"}); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("cross-tenant SetWindowTimes: %v", err)
	}
	ws, _ = s.ListWindows(ctx, "acme")
	if !ws[0].EndedAt.Equal(t0.Add(10*time.Minute)) || !ws[0].FollowedUpTo.Equal(t0.Add(10*time.Minute)) || ws[0].Label != "db upgrade" {
		t.Errorf("after SetWindowTimes: %+v", ws[0])
	}
	if err := s.DeleteWindow(ctx, "globex", "mw_1"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("cross-tenant delete: %v", err)
	}
	if err := s.DeleteWindow(ctx, "acme", "mw_1"); err != nil {
		t.Fatal(err)
	}
	if ws, _ := s.ListWindows(ctx, "acme"); len(ws) != 1 || ws[0].ID != "mw_2" {
		t.Errorf("after delete: %+v", ws)
	}

	// The reminders of proxies still offline when a window ends.
	record(t, s, hb("acme", "edge-1", "192.0.2.1", t0))
	ip := netip.MustParseAddr("192.0.2.7")
	if err := s.AppendOfflineEvents(ctx, "acme", []hub.Event{
		{Proxy: "edge-1", At: t0.Add(time.Minute), NewIP: ip}, {Proxy: "edge-2", At: t0.Add(2 * time.Minute), NewIP: ip},
	}); err != nil {
		t.Fatal(err)
	}
	evs := collectEvents(t, s, "acme", hub.EventQuery{Types: []hub.EventType{hub.EventOffline}, Ascending: true})
	if len(evs) != 2 || evs[0].Proxy != "edge-1" || evs[1].Proxy != "edge-2" || evs[0].ID >= evs[1].ID ||
		!evs[1].At.Equal(t0.Add(2*time.Minute)) || evs[1].NewIP != ip {
		t.Errorf("appended offline events: %+v", evs)
	}
	if err := s.AppendOfflineEvents(ctx, "nobody", []hub.Event{{Proxy: "x", At: t0}}); !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("events of an unknown tenant: %v", err)
	}
}
