package hub_test

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

// TestHistoryPruner_KeepsWhatIsWithinRetention: with 30 days of retention,
// a prune removes the IP change from 40 days ago, in batches, and keeps
// the one from 20 days ago.
func TestHistoryPruner_KeepsWhatIsWithinRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memory.New()
	now := time.Now().UTC()
	if err := st.CreateTenant(ctx, hub.Tenant{ID: "acme", OfflineAfter: time.Minute, AutoRegister: true}); err != nil {
		t.Fatal(err)
	}
	beat := func(ip string, at time.Time) {
		a := netip.MustParseAddr(ip)
		if _, err := st.RecordHeartbeat(ctx, hub.Heartbeat{TenantID: "acme", Name: "edge-1", IP: a, PeerIP: a, At: at, MayCreate: true}); err != nil {
			t.Fatal(err)
		}
	}
	beat("192.0.2.1", now.Add(-41*24*time.Hour))
	beat("192.0.2.2", now.Add(-40*24*time.Hour))
	beat("192.0.2.3", now.Add(-20*24*time.Hour))
	p := hub.NewHistoryPruner(st, 30*24*time.Hour, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	n, err := p.PruneOnce(ctx)
	if err != nil || n == 0 {
		t.Fatalf("PruneOnce: %d, %v; want the old records deleted", n, err)
	}
	var kept []hub.IPChange
	if err := st.ScanIPChanges(ctx, "acme", hub.AuditQuery{}, func(c hub.IPChange) error { kept = append(kept, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0].NewIP.String() != "192.0.2.3" {
		t.Fatalf("history after the prune: %+v; want only the change of 20 days ago", kept)
	}
}
