package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// TestTokenCache_WritesAreCheckedEvenWhenTheCacheIsStale: hub A has the
// token in its cache; the token is revoked behind its back (directly in the
// database, so no notification tells hub A). Hub A's next heartbeat with it
// is refused (ErrTokenRevoked) and writes nothing, and from then on hub A's
// lookups see the revocation.
func TestTokenCache_WritesAreCheckedEvenWhenTheCacheIsStale(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a := open(t, url, postgres.Options{TokenCacheTTL: time.Hour})
	mustCreateTenants(t, a, "acme")
	ctx := context.Background()
	waitTokenWatch(t, a)
	if err := a.CreateToken(ctx, hub.Token{ID: "tok_1", TenantID: "acme", Label: "cron", Hash: "hash-1", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if tok, err := a.TokenByHash(ctx, "hash-1"); err != nil || !tok.RevokedAt.IsZero() {
		t.Fatalf("lookup on hub A: %+v, %v", tok, err)
	}
	h := hb("acme", "edge-1", "192.0.2.1", t0)
	h.TokenID = "tok_1"
	mustRecord(t, a, h)

	admin := connect(t, pgtest.AdminURL(t, url))
	if _, err := admin.Exec(ctx, `UPDATE heartbeat_tokens SET revoked_at = $1 WHERE id = 'tok_1'`, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Hub A's cache still holds the live token: authentication would pass.
	if tok, err := a.TokenByHash(ctx, "hash-1"); err != nil || !tok.RevokedAt.IsZero() {
		t.Fatalf("hub A's cached lookup: %+v, %v (the test needs the cached, stale entry)", tok, err)
	}
	for _, name := range []string{"edge-1", "edge-2"} { // an existing proxy and a new one
		h := hb("acme", name, "198.51.100.7", t0.Add(time.Minute))
		h.TokenID = "tok_1"
		if _, err := a.RecordHeartbeat(ctx, h); !errors.Is(err, hub.ErrTokenRevoked) {
			t.Fatalf("heartbeat of %s with the revoked token: %v, want ErrTokenRevoked", name, err)
		}
	}
	p, err := a.GetProxy(ctx, "acme", "edge-1")
	if err != nil || p.IP.String() != "192.0.2.1" || !p.LastSeen.Equal(t0) {
		t.Fatalf("edge-1 after the refused heartbeat: %+v, %v; want it unchanged", p, err)
	}
	if _, err := a.GetProxy(ctx, "acme", "edge-2"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("the refused heartbeat created edge-2: %v", err)
	}
	if cs := mustChanges(t, a, "acme", hub.AuditQuery{}); len(cs) != 0 {
		t.Fatalf("refused heartbeat recorded changes: %+v", cs)
	}
	// The refusal dropped the stale entry: lookups now see the revocation.
	if tok, err := a.TokenByHash(ctx, "hash-1"); err != nil || tok.RevokedAt.IsZero() {
		t.Fatalf("hub A's lookup after the refusal: %+v, %v; want the token revoked", tok, err)
	}
}

// TestTokenCache_RevocationOnAnotherHubReachesTheCache: hub B revokes a
// token that hub A has cached; hub A's lookups see the revocation as soon
// as the notification arrives, without any heartbeat.
func TestTokenCache_RevocationOnAnotherHubReachesTheCache(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a := open(t, url, postgres.Options{TokenCacheTTL: time.Hour})
	b := open(t, url, postgres.Options{TokenCacheTTL: time.Hour})
	mustCreateTenants(t, a, "acme")
	ctx := context.Background()
	waitTokenWatch(t, a)
	waitTokenWatch(t, b)
	if err := a.CreateToken(ctx, hub.Token{ID: "tok_1", TenantID: "acme", Label: "cron", Hash: "hash-1", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if tok, err := a.TokenByHash(ctx, "hash-1"); err != nil || !tok.RevokedAt.IsZero() {
		t.Fatalf("lookup on hub A: %+v, %v", tok, err)
	}
	if err := b.RevokeToken(ctx, "acme", "tok_1", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		tok, err := a.TokenByHash(ctx, "hash-1")
		if err != nil {
			t.Fatal(err)
		}
		if !tok.RevokedAt.IsZero() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("hub A still authenticates the token 5 s after hub B revoked it")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTokenCache_RevokeOnThisHubDropsTheEntry: revoking through the store
// that cached the token shows at once in its lookups.
func TestTokenCache_RevokeOnThisHubDropsTheEntry(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t), postgres.Options{TokenCacheTTL: time.Hour})
	mustCreateTenants(t, s, "acme")
	ctx := context.Background()
	waitTokenWatch(t, s)
	if err := s.CreateToken(ctx, hub.Token{ID: "tok_1", TenantID: "acme", Label: "cron", Hash: "hash-1", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, "hash-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "acme", "tok_1", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if tok, err := s.TokenByHash(ctx, "hash-1"); err != nil || !tok.RevokedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("lookup after revoking on the same hub: %+v, %v; want revoked at %v", tok, err, t0.Add(time.Second))
	}
}

// waitTokenWatch waits until s listens to revocations: its first
// connection empties the cache, which would race the tests' lookups.
func waitTokenWatch(t *testing.T, s *postgres.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitTokenWatchForTest(ctx); err != nil {
		t.Fatalf("the store does not listen to token revocations: %v", err)
	}
}
