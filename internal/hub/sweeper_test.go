package hub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

func TestSweeper_FlipsAtTheDeadlineWithAFakeClock(t *testing.T) {
	t.Parallel()
	now := t0
	st := memory.New()
	ctx := context.Background()
	if err := st.CreateTenant(ctx, hub.Tenant{ID: "t", AutoRegister: true, OfflineAfter: 80 * time.Second}); err != nil {
		t.Fatal(err)
	}
	svc := hub.New(hub.Options{Store: st, Clock: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	sw := hub.NewSweeper(st, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	for i := range 3 {
		if _, err := svc.Heartbeat(ctx, hub.HeartbeatRequest{TenantID: "t", Name: fmt.Sprintf("edge-%d", i), IP: netip.MustParseAddr("192.0.2.1")}); err != nil {
			t.Fatal(err)
		}
	}
	now = t0.Add(80 * time.Second)
	if evs, _ := sw.SweepOnce(ctx); len(evs) != 0 {
		t.Fatalf("flipped at exactly 80 s: %v", evs)
	}
	now = t0.Add(80*time.Second + time.Millisecond)
	evs, err := sw.SweepOnce(ctx)
	if err != nil || len(evs) != 3 {
		t.Fatalf("sweep after the deadline: %v %v", evs, err)
	}
	for _, e := range evs {
		if !e.At.Equal(t0.Add(80 * time.Second)) {
			t.Fatalf("flip recorded at %v, want the deadline", e.At)
		}
	}
}
