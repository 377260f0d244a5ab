// Package storetest is the conformance suite every hub.Store must pass.
// Each implementation's tests call Run with a constructor that returns a
// fresh, empty store; the same assertions then hold for the embedded store
// and for PostgreSQL.
package storetest

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// NewStore returns a fresh, empty store for one test. Cleanup is the
// constructor's business (t.Cleanup).
type NewStore func(t *testing.T) hub.Store

// t0 is the suite's reference time. Times are whole microseconds, as
// PostgreSQL keeps them.
var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

type suiteTest struct {
	name string
	fn   func(*testing.T, hub.Store)
}

// Run runs the whole conformance suite against stores made by newStore,
// each test on its own fresh store and in parallel.
func Run(t *testing.T, newStore NewStore) {
	var all []suiteTest
	all = append(all, proxyTests...)
	all = append(all, tenantTests...)
	all = append(all, credentialTests...)
	all = append(all, auditTests...)
	all = append(all, badgeTests...)
	all = append(all, maintenanceTests...)
	for _, tc := range all {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func tenant(id string) hub.Tenant {
	return hub.Tenant{ID: id, Name: "Tenant " + id, OfflineAfter: 80 * time.Second, MaxProxies: 10000, AutoRegister: true, CreatedAt: t0, UpdatedAt: t0}
}

// withTenants creates the tenants a test uses.
func withTenants(t *testing.T, s hub.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.CreateTenant(context.Background(), tenant(id)); err != nil {
			t.Fatalf("CreateTenant(%s): %v", id, err)
		}
	}
}

func hb(tenant, name, ip string, at time.Time) hub.Heartbeat {
	a := netip.MustParseAddr(ip)
	return hub.Heartbeat{TenantID: tenant, Name: name, IP: a, PeerIP: a, At: at, RequestID: "req-" + name, MayCreate: true}
}

func record(t *testing.T, s hub.Store, h hub.Heartbeat) hub.HeartbeatResult {
	t.Helper()
	res, err := s.RecordHeartbeat(context.Background(), h)
	if err != nil {
		t.Fatalf("RecordHeartbeat(%s, %s, %s): %v", h.TenantID, h.Name, h.IP, err)
	}
	return res
}

func changes(t *testing.T, s hub.Store, tenant string, q hub.AuditQuery) []hub.IPChange {
	t.Helper()
	cs, err := CollectIPChanges(context.Background(), s, tenant, q)
	if err != nil {
		t.Fatalf("ScanIPChanges(%s): %v", tenant, err)
	}
	return cs
}
