package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// TestMaintenance_HeldBackThenRemindedOnce: inside a window, the flips and
// IP changes of the proxies it covers are recorded but not sent, while
// other proxies' are; when it ends, a proxy that went offline inside it
// and is still offline is alerted once.
func TestMaintenance_HeldBackThenRemindedOnce(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := newStore(t)
	rcv := newReceiver(t, ok200)
	addWebhook(t, s, KindSlack, rcv.URL())
	if err := s.CreateWindow(ctx, hub.MaintenanceWindow{ID: "mw_1", TenantID: "acme", Pattern: "edge-*",
		Start: t0.Add(30 * time.Second), End: t0.Add(10 * time.Minute), CreatedAt: t0, FollowedUpTo: t0}); err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher(s, Config{AllowPrivate: true, Now: clk.Now})

	heartbeat(t, s, "edge-1", "192.0.2.1", t0)
	heartbeat(t, s, "edge-2", "192.0.2.2", t0)
	heartbeat(t, s, "core-1", "192.0.2.9", t0)
	runOnce(t, d) // the registrations, before the window
	rcv.reqs = nil

	clk.Advance(time.Minute)
	heartbeat(t, s, "edge-1", "192.0.2.5", clk.Now()) // an IP change inside the window
	heartbeat(t, s, "edge-2", "192.0.2.2", clk.Now())
	clk.Advance(2 * time.Minute) // edge-1, edge-2 due at t0+2m, core-1 at t0+1m: all inside the window
	if _, err := s.ExpireProxies(ctx, clk.Now(), 0); err != nil {
		t.Fatal(err)
	}
	heartbeat(t, s, "edge-2", "192.0.2.2", clk.Now()) // edge-2 comes back inside the window
	clk.Advance(DefaultMinInterval)
	runOnce(t, d)
	got := rcv.got()
	if len(got) != 1 {
		t.Fatalf("%d messages during the window, want 1 (core-1's flip)", len(got))
	}
	if text := slackText(t, got[0]); !strings.Contains(text, "core-1") || strings.Contains(text, "edge-") {
		t.Fatalf("message during the window: %q", text)
	}
	// Everything is still in the history.
	var types []string
	_ = s.ScanEvents(ctx, "acme", hub.EventQuery{Proxy: "edge-1", Ascending: true}, func(e hub.Event) error {
		types = append(types, string(e.Type))
		return nil
	})
	if strings.Join(types, ",") != "registered,ip_changed,offline" {
		t.Fatalf("edge-1's events: %v", types)
	}

	// The window ends: edge-1 (still offline) is alerted once; edge-2 is
	// back, core-1 was alerted already.
	clk.Set(t0.Add(10*time.Minute + time.Second))
	runOnce(t, d)
	got = rcv.got()
	if len(got) != 2 {
		t.Fatalf("%d messages after the window, want 2", len(got))
	}
	if text := slackText(t, got[1]); !strings.Contains(text, "offline edge-1") || strings.Contains(text, "edge-2") || strings.Contains(text, "core-1") {
		t.Fatalf("the reminder: %q", text)
	}
	for range 3 {
		clk.Advance(FollowUpEvery)
		runOnce(t, d)
	}
	if n := len(rcv.got()); n != 2 {
		t.Fatalf("%d messages: the reminder was sent again", n)
	}
	if ws, _ := s.ListWindows(ctx, "acme"); !ws[0].FollowedUpTo.Equal(t0.Add(10 * time.Minute)) {
		t.Errorf("followed up to %v", ws[0].FollowedUpTo)
	}
}
