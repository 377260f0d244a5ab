package sqlite_test

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/sqlite"
	"github.com/proxyhub/proxyhub/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func beat(t *testing.T, s hub.Store, name, ip string, at time.Time) hub.HeartbeatResult {
	t.Helper()
	a := netip.MustParseAddr(ip)
	res, err := s.RecordHeartbeat(context.Background(), hub.Heartbeat{TenantID: "acme", Name: name, IP: a, PeerIP: a, At: at, TokenID: "tok_1", MayCreate: true})
	if err != nil {
		t.Fatalf("heartbeat %s from %s: %v", name, ip, err)
	}
	return res
}

// TestReopen_KeepsEverything: what one store wrote, a store opened on the
// same file after it closed reads back: tenants, tokens (by hash),
// proxies with their last IP and liveness, the history, webhooks and
// their delivery log; and the id sequences go on where they stopped.
func TestReopen_KeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	s := open(t, dir, sqlite.Options{})
	ten := hub.Tenant{ID: "acme", Name: "Acme", OfflineAfter: time.Minute, MaxProxies: 10, AutoRegister: true,
		Allowlist: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, hub.Token{ID: "tok_1", TenantID: "acme", Label: "cron", Hash: "hash-1", Proxy: "",
		AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	beat(t, s, "edge-1", "203.0.113.1", t0)
	beat(t, s, "edge-1", "203.0.113.2", t0.Add(time.Second))
	beat(t, s, "edge-1", "203.0.113.2", t0.Add(2*time.Second)) // a steady-state heartbeat: the heartbeat log
	beat(t, s, "edge-2", "203.0.113.9", t0.Add(3*time.Second))
	if _, err := s.SetPaused(ctx, "acme", "edge-2", true, t0.Add(4*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordDenied(ctx, hub.Denied{TenantID: "acme", Proxy: "edge-3", IP: netip.MustParseAddr("198.51.100.1"), At: t0, Reason: "source_ip_not_allowed"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateWebhook(ctx, hub.Webhook{ID: "wh_1", TenantID: "acme", Kind: "generic", URL: "https://example.com/hook",
		Events: []hub.EventType{hub.EventIPChanged}, Enabled: true, Secret: "whsec_x", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordDelivery(ctx, hub.Delivery{TenantID: "acme", WebhookID: "wh_1", At: t0, Attempt: 1, StatusCode: 500, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	before, _ := storetest.CollectIPChanges(ctx, s, "acme", hub.AuditQuery{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	r := open(t, dir, sqlite.Options{})
	got, err := r.GetTenant(ctx, "acme")
	if err != nil || got.Name != "Acme" || got.OfflineAfter != time.Minute || len(got.Allowlist) != 1 || !got.CreatedAt.Equal(t0) {
		t.Fatalf("tenant after reopen: %+v, %v", got, err)
	}
	tok, err := r.TokenByHash(ctx, "hash-1")
	if err != nil || tok.ID != "tok_1" || tok.TenantID != "acme" || len(tok.AllowedCIDRs) != 1 || !tok.LastUsedAt.Equal(t0) {
		t.Fatalf("token after reopen: %+v, %v", tok, err)
	}
	p, err := r.GetProxy(ctx, "acme", "edge-1")
	if err != nil || p.IP.String() != "203.0.113.2" || p.IPChanges != 1 || !p.LastSeen.Equal(t0.Add(2*time.Second)) ||
		!p.Deadline.Equal(t0.Add(2*time.Second+time.Minute)) || p.State != hub.StateOnline {
		t.Fatalf("edge-1 after reopen: %+v, %v", p, err)
	}
	if p, err := r.GetProxy(ctx, "acme", "edge-2"); err != nil || !p.Paused {
		t.Fatalf("edge-2 after reopen: %+v, %v; want it paused", p, err)
	}
	after, _ := storetest.CollectIPChanges(ctx, r, "acme", hub.AuditQuery{})
	if len(after) != 1 || len(before) != 1 || after[0] != before[0] {
		t.Fatalf("history after reopen: %+v, was %+v", after, before)
	}
	if ds, _ := storetest.CollectDenied(ctx, r, "acme", hub.AuditQuery{}); len(ds) != 1 || ds[0].Reason != "source_ip_not_allowed" {
		t.Fatalf("denied after reopen: %+v", ds)
	}
	w, err := r.GetWebhook(ctx, "acme", "wh_1")
	if err != nil || w.Secret != "whsec_x" || len(w.Events) != 1 || !w.Enabled {
		t.Fatalf("webhook after reopen: %+v, %v", w, err)
	}
	if ds, err := r.ListDeliveries(ctx, "acme", "wh_1", 0, 10); err != nil || len(ds) != 1 || ds[0].Error != "boom" {
		t.Fatalf("deliveries after reopen: %+v, %v", ds, err)
	}
	// The sequences go on: a new change gets a higher id, a new event too.
	res := beat(t, r, "edge-1", "203.0.113.3", t0.Add(time.Minute))
	if !res.Changed || res.ChangeID <= before[0].ID || res.PreviousIP.String() != "203.0.113.2" {
		t.Fatalf("change after reopen: %+v", res)
	}
	if res := beat(t, r, "edge-9", "203.0.113.4", t0.Add(time.Minute)); !res.Created {
		t.Fatalf("new proxy after reopen: %+v", res)
	}
	if ps, _ := r.ListProxies(ctx, "acme", hub.ProxyQuery{}); len(ps) != 3 {
		t.Fatalf("%d proxies after reopen, want 3", len(ps))
	}
}

// TestOpen_SecondOpenerIsRefused: while one store holds the database, a
// second open of it fails with ErrLocked and a message saying why; once
// the first closes, it opens.
func TestOpen_SecondOpenerIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := open(t, dir, sqlite.Options{})
	_, err := sqlite.Open(context.Background(), filepath.Join(dir, "proxyhub.db"), sqlite.Options{})
	if !errors.Is(err, sqlite.ErrLocked) || !strings.Contains(err.Error(), "another proxyhub") {
		t.Fatalf("second open: %v, want ErrLocked saying another proxyhub holds it", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, dir, sqlite.Options{})
}

// TestOpen_NewerSchemaIsRefused: a database written by a newer proxyhub
// is not opened.
func TestOpen_NewerSchemaIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, sqlite.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.SetSchemaVersionForTest(filepath.Join(dir, "proxyhub.db"), sqlite.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(context.Background(), filepath.Join(dir, "proxyhub.db"), sqlite.Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema: %v", err)
	}
}

// TestAppendOnly_HistoryRefusesUpdatesAndRecentDeletes: the triggers hold
// whatever the application sends.
func TestAppendOnly_HistoryRefusesUpdatesAndRecentDeletes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, sqlite.Options{})
	ctx := context.Background()
	if err := s.CreateTenant(ctx, hub.Tenant{ID: "acme", CreatedAt: t0, UpdatedAt: t0, AutoRegister: true}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		a := netip.MustParseAddr(ip)
		if _, err := s.RecordHeartbeat(ctx, hub.Heartbeat{TenantID: "acme", Name: "edge-1", IP: a, PeerIP: a, At: now.Add(time.Duration(i) * time.Second), MayCreate: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RecordDenied(ctx, hub.Denied{TenantID: "acme", IP: netip.MustParseAddr("198.51.100.1"), At: now}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE ip_changes SET new_ip = '198.51.100.1'`,
		`DELETE FROM ip_changes`,
		`UPDATE events SET proxy = 'x'`,
		`DELETE FROM events`,
		`UPDATE denied SET reason = 'x'`,
		`DELETE FROM denied`,
	} {
		if err := sqlite.ExecForTest(s, stmt); err == nil || !strings.Contains(err.Error(), "proxyhub:") {
			t.Errorf("%s: %v, want the trigger's refusal", stmt, err)
		}
	}
	if cs, _ := storetest.CollectIPChanges(ctx, s, "acme", hub.AuditQuery{}); len(cs) != 1 {
		t.Fatalf("history after refused statements: %+v", cs)
	}
}
