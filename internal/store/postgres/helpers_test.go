package postgres_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
	"github.com/proxyhub/proxyhub/internal/store/storetest"
)

// t0 is the tests' reference time (whole microseconds, as PostgreSQL keeps
// them).
var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func tenant(id string) hub.Tenant {
	return hub.Tenant{ID: id, Name: "Tenant " + id, OfflineAfter: 80 * time.Second, AutoRegister: true, CreatedAt: t0, UpdatedAt: t0}
}

func hb(tenantID, name, ip string, at time.Time) hub.Heartbeat {
	a := netip.MustParseAddr(ip)
	return hub.Heartbeat{TenantID: tenantID, Name: name, IP: a, PeerIP: a, At: at, RequestID: "req-" + name, MayCreate: true}
}

func mustCreateTenants(t testing.TB, s hub.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.CreateTenant(context.Background(), tenant(id)); err != nil {
			t.Fatalf("CreateTenant(%s): %v", id, err)
		}
	}
}

func mustRecord(t testing.TB, s hub.Store, h hub.Heartbeat) hub.HeartbeatResult {
	t.Helper()
	res, err := s.RecordHeartbeat(context.Background(), h)
	if err != nil {
		t.Fatalf("RecordHeartbeat(%s/%s %s): %v", h.TenantID, h.Name, h.IP, err)
	}
	return res
}

func mustChanges(t testing.TB, s hub.Store, tenantID string, q hub.AuditQuery) []hub.IPChange {
	t.Helper()
	cs, err := storetest.CollectIPChanges(context.Background(), s, tenantID, q)
	if err != nil {
		t.Fatalf("ScanIPChanges(%s): %v", tenantID, err)
	}
	return cs
}

// checkChain fails unless history (newest first) chains: every change's
// old IP is the previous change's new IP.
func checkChain(t testing.TB, history []hub.IPChange) {
	t.Helper()
	for i := 0; i+1 < len(history); i++ {
		if history[i].OldIP != history[i+1].NewIP {
			t.Fatalf("history does not chain: %+v came after %+v", history[i], history[i+1])
		}
	}
}

// connect opens a raw connection, closed when t ends.
func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// seedStore is what seed needs: a store with webhooks.
type seedStore interface {
	hub.Store
	hub.WebhookStore
}

// seed gives tenants acme and globex a proxy with one IP change each, a
// token, a credential, a denied record, a webhook with one delivery, and so
// three events (registered, ip_changed, denied): seedRows per table.
// seeded opens a store on a new test database with seed's records, and
// returns the database's URL and the store.
func seeded(t *testing.T) (string, *postgres.Store) {
	t.Helper()
	url := pgtest.URL(t)
	s := open(t, url, postgres.Options{})
	seed(t, s)
	return url, s
}

func seed(t testing.TB, s seedStore) {
	t.Helper()
	ctx := context.Background()
	mustCreateTenants(t, s, "acme", "globex")
	for i, tenantID := range []string{"acme", "globex"} {
		mustRecord(t, s, hb(tenantID, "edge-1", "192.0.2.1", t0))
		mustRecord(t, s, hb(tenantID, "edge-1", "192.0.2.2", t0.Add(time.Minute)))
		if err := s.CreateToken(ctx, hub.Token{ID: "tok_" + tenantID, TenantID: tenantID, Label: "fleet", Hash: "hash-" + tenantID, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateCredential(ctx, hub.Credential{ID: "phc_" + tenantID, TenantID: tenantID, Role: "admin", Label: "ci", SecretHash: "sh", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordDenied(ctx, hub.Denied{TenantID: tenantID, Proxy: "edge-9", IP: netip.MustParseAddr("198.51.100.1"), At: t0.Add(time.Duration(i) * time.Second), Reason: "source_ip_not_allowed"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateWebhook(ctx, hub.Webhook{ID: "wh_" + tenantID, TenantID: tenantID, Kind: "generic", URL: "https://example.com/hook",
			Enabled: true, Secret: "whsec_" + tenantID, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RecordDelivery(ctx, hub.Delivery{TenantID: tenantID, WebhookID: "wh_" + tenantID, At: t0, Attempt: 1, StatusCode: 200}); err != nil {
			t.Fatal(err)
		}
	}
}

// seedRows is how many rows of each tenant table seed gives each tenant.
var seedRows = map[string]int{
	"tenants": 1, "heartbeat_tokens": 1, "admin_credentials": 1, "proxies": 1, "ip_changes": 1, "denied": 1,
	"events": 3, "webhooks": 1, "webhook_deliveries": 1,
}

// tenantTables are the tables that hold tenant data, all under row-level
// security.
var tenantTables = []string{"tenants", "heartbeat_tokens", "admin_credentials", "proxies", "ip_changes", "denied",
	"events", "webhooks", "webhook_deliveries"}
