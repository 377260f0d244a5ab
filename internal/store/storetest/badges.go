package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

var badgeTests = []suiteTest{
	{"Badges", testBadges},
}

func testBadges(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex")
	ctx := context.Background()
	whole := hub.Badge{ID: "bdg_1", TenantID: "acme", Label: "fleet", KeyHash: "kh-1", CreatedAt: t0}
	one := hub.Badge{ID: "bdg_2", TenantID: "acme", Proxy: "edge-1", Label: "edge", KeyHash: "kh-2", CreatedAt: t0.Add(time.Second)}
	for _, b := range []hub.Badge{whole, one} {
		if err := s.CreateBadge(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateBadge(ctx, hub.Badge{ID: "bdg_3", TenantID: "globex", KeyHash: "kh-1", CreatedAt: t0}); !errors.Is(err, hub.ErrConflict) {
		t.Fatalf("duplicate key hash: %v", err)
	}
	if err := s.CreateBadge(ctx, hub.Badge{ID: "bdg_4", TenantID: "nobody", KeyHash: "kh-4", CreatedAt: t0}); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("badge of an unknown tenant: %v", err)
	}
	got, err := s.BadgeByKeyHash(ctx, "kh-2")
	if err != nil || got.ID != "bdg_2" || got.TenantID != "acme" || got.Proxy != "edge-1" || got.Label != "edge" || !got.CreatedAt.Equal(one.CreatedAt) {
		t.Fatalf("BadgeByKeyHash = %+v, %v", got, err)
	}
	if _, err := s.BadgeByKeyHash(ctx, "kh-none"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("unknown key hash: %v", err)
	}
	if err := s.RevokeBadge(ctx, "globex", "bdg_1", t0); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("cross-tenant revoke: %v", err)
	}
	for range 2 { // the first revocation's time stays
		if err := s.RevokeBadge(ctx, "acme", "bdg_1", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		_ = s.RevokeBadge(ctx, "acme", "bdg_1", t0.Add(time.Hour))
	}
	list, err := s.ListBadges(ctx, "acme")
	if err != nil || len(list) != 2 || list[0].ID != "bdg_1" || !list[0].RevokedAt.Equal(t0.Add(time.Minute)) || !list[1].RevokedAt.IsZero() {
		t.Fatalf("ListBadges = %+v, %v", list, err)
	}
	if l, err := s.ListBadges(ctx, "globex"); err != nil || len(l) != 0 {
		t.Fatalf("globex sees acme's badges: %v %v", l, err)
	}
}
