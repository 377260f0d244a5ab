package hub_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// newService returns a hub over a memory store with tenant "t", whose
// timeout is offlineAfter (0: none set, the store's default applies).
func newService(now *time.Time, offlineAfter time.Duration) (*hub.Service, hub.Store) {
	st := memory.New()
	if err := st.CreateTenant(context.Background(), hub.Tenant{ID: "t", AutoRegister: true, OfflineAfter: offlineAfter}); err != nil {
		panic(err)
	}
	return hub.New(hub.Options{
		Store: st, Clock: func() time.Time { return *now }, OfflineAfter: offlineAfter,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}), st
}

func TestValidName(t *testing.T) {
	t.Parallel()
	cases := map[string]bool{
		"edge-7": true, "a": true, "9": true, "host.example.com": true, "under_score": true, strings.Repeat("x", 100): true,
		"": false, "-a": false, ".a": false, "_a": false, "a b": false, "a/b": false, "ä": false, "a\n": false, strings.Repeat("x", 101): false,
	}
	for name, want := range cases {
		if got := hub.ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHeartbeat_RejectsBadInputWithoutStoring(t *testing.T) {
	t.Parallel()
	now := t0
	svc, st := newService(&now, 0)
	cases := []hub.HeartbeatRequest{
		{TenantID: "t", Name: "bad name", IP: netip.MustParseAddr("192.0.2.1")},
		{TenantID: "t", Name: "edge-1"},
		{TenantID: "t", Name: "edge-1", IP: netip.IPv4Unspecified()},
	}
	for _, req := range cases {
		if _, err := svc.Heartbeat(context.Background(), req); !errors.Is(err, hub.ErrInvalidName) && !errors.Is(err, hub.ErrInvalidIP) {
			t.Errorf("Heartbeat(%+v) err = %v", req, err)
		}
	}
	if ps, _ := st.ListProxies(context.Background(), "t", hub.ProxyQuery{}); len(ps) != 0 {
		t.Fatalf("stored %+v", ps)
	}
}

func TestStatus_FollowsConfiguredTimeoutWithFakeClock(t *testing.T) {
	t.Parallel()
	now := t0
	svc, _ := newService(&now, 30*time.Second)
	if _, err := svc.Heartbeat(context.Background(), hub.HeartbeatRequest{TenantID: "t", Name: "edge-1", IP: netip.MustParseAddr("192.0.2.1")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Duration
		want hub.Status
	}{{30 * time.Second, hub.Online}, {30*time.Second + time.Nanosecond, hub.Offline}} {
		now = t0.Add(tc.at)
		r, err := svc.Status(context.Background(), "t")
		if err != nil {
			t.Fatal(err)
		}
		if r.Proxies[0].Status != tc.want || !r.At.Equal(now) {
			t.Errorf("at +%v: %s (report at %v), want %s", tc.at, r.Proxies[0].Status, r.At, tc.want)
		}
	}
}

func TestOfflineAfter_TenantSettingElseSeedDefault(t *testing.T) {
	t.Parallel()
	now := t0
	svc, _ := newService(&now, 0)
	if got := svc.OfflineAfter(hub.Tenant{}); got != 80*time.Second {
		t.Fatalf("default = %v, want 80s", got)
	}
	if got := svc.OfflineAfter(hub.Tenant{OfflineAfter: time.Minute}); got != time.Minute {
		t.Fatalf("tenant setting ignored: %v", got)
	}
}

// TestTenantSettings_FromAnotherHubApplyAfterTenantTTLOnTheHubsClock: a
// change written to the store by another hub (not through this one)
// reaches this hub's heartbeats once TenantTTL has passed on its clock,
// and not before.
func TestTenantSettings_FromAnotherHubApplyAfterTenantTTLOnTheHubsClock(t *testing.T) {
	t.Parallel()
	now := t0
	svc, st := newService(&now, 0)
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")
	if _, err := svc.Heartbeat(ctx, hub.HeartbeatRequest{TenantID: "t", Name: "edge-1", IP: ip}); err != nil {
		t.Fatal(err) // reads and caches the tenant (auto-register on)
	}
	other, err := st.GetTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	other.AutoRegister = false
	if err := st.UpdateTenant(ctx, other); err != nil {
		t.Fatal(err)
	}
	now = now.Add(hub.TenantTTL - time.Millisecond)
	if _, err := svc.Heartbeat(ctx, hub.HeartbeatRequest{TenantID: "t", Name: "edge-2", IP: ip}); err != nil {
		t.Fatalf("within TenantTTL the cached settings apply: %v", err)
	}
	now = now.Add(time.Millisecond)
	if _, err := svc.Heartbeat(ctx, hub.HeartbeatRequest{TenantID: "t", Name: "edge-3", IP: ip}); !errors.Is(err, hub.ErrNotRegistered) {
		t.Fatalf("after TenantTTL on the hub's clock: err = %v, want ErrNotRegistered", err)
	}
}
