package storetest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

var tenantTests = []suiteTest{
	{"Tenants/CreateGetList", testTenantsCreateGetList},
	{"Tenants/DuplicateConflicts", testTenantDuplicate},
	{"Tenants/UpdateKeepsIdentity", testTenantUpdate},
}

func testTenantsCreateGetList(t *testing.T, s hub.Store) {
	ctx := context.Background()
	in := tenant("globex")
	in.Allowlist = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	in.AdminAllowlist = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	in.AutoRegister = false
	if err := s.CreateTenant(ctx, in); err != nil {
		t.Fatal(err)
	}
	withTenants(t, s, "acme")
	got, err := s.GetTenant(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != in.Name || got.OfflineAfter != in.OfflineAfter || got.MaxProxies != in.MaxProxies || got.AutoRegister ||
		len(got.Allowlist) != 2 || got.Allowlist[1] != in.Allowlist[1] || len(got.AdminAllowlist) != 1 || !got.CreatedAt.Equal(t0) {
		t.Fatalf("GetTenant = %+v, want %+v", got, in)
	}
	all, err := s.ListTenants(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "acme" || all[1].ID != "globex" {
		t.Fatalf("ListTenants = %+v, %v", all, err)
	}
	if _, err := s.GetTenant(ctx, "ghost"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("GetTenant(ghost) = %v", err)
	}
}

func testTenantDuplicate(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	dup := tenant("acme")
	dup.Name = "Impostor"
	if err := s.CreateTenant(context.Background(), dup); !errors.Is(err, hub.ErrConflict) {
		t.Fatalf("duplicate tenant: %v, want ErrConflict", err)
	}
	got, _ := s.GetTenant(context.Background(), "acme")
	if got.Name != "Tenant acme" {
		t.Fatalf("duplicate create changed the tenant: %+v", got)
	}
}

func testTenantUpdate(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	ctx := context.Background()
	up := tenant("acme")
	up.Name, up.OfflineAfter, up.MaxProxies, up.AutoRegister = "Acme Corp", 5*time.Minute, 3, false
	up.CreatedAt = t0.Add(time.Hour) // ignored
	up.UpdatedAt = t0.Add(time.Hour)
	up.Allowlist = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if err := s.UpdateTenant(ctx, up); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetTenant(ctx, "acme")
	if got.Name != "Acme Corp" || got.OfflineAfter != 5*time.Minute || got.MaxProxies != 3 || got.AutoRegister ||
		!got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0.Add(time.Hour)) || len(got.Allowlist) != 1 {
		t.Fatalf("after update: %+v", got)
	}
	up.Allowlist = nil
	if err := s.UpdateTenant(ctx, up); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetTenant(ctx, "acme"); len(got.Allowlist) != 0 {
		t.Fatalf("allowlist not cleared: %+v", got.Allowlist)
	}
	if err := s.UpdateTenant(ctx, tenant("ghost")); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("update of a missing tenant: %v", err)
	}
}
