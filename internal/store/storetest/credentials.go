package storetest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

var credentialTests = []suiteTest{
	{"Tokens/CreateFindListRevoke", testTokens},
	{"Tokens/TenantScoped", testTokensTenantScoped},
	{"Credentials/CreateFindListRevoke", testCredentials},
}

func testTokens(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme")
	ctx := context.Background()
	tok := hub.Token{
		ID: "tok_1", TenantID: "acme", Label: "edge fleet", Hash: "hash-1", Proxy: "edge-1",
		AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")},
		ExpiresAt:    t0.Add(24 * time.Hour), CreatedAt: t0,
	}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, hub.Token{ID: "tok_2", TenantID: "acme", Label: "dup hash", Hash: "hash-1", CreatedAt: t0}); !errors.Is(err, hub.ErrConflict) {
		t.Fatalf("duplicate hash: %v, want ErrConflict", err)
	}
	if err := s.CreateToken(ctx, hub.Token{ID: "tok_3", TenantID: "acme", Label: "second", Hash: "hash-3", CreatedAt: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.TokenByHash(ctx, "hash-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "tok_1" || got.TenantID != "acme" || got.Proxy != "edge-1" || got.Label != "edge fleet" ||
		len(got.AllowedCIDRs) != 1 || !got.ExpiresAt.Equal(tok.ExpiresAt) || !got.RevokedAt.IsZero() || !got.LastUsedAt.IsZero() {
		t.Fatalf("TokenByHash = %+v", got)
	}
	if _, err := s.TokenByHash(ctx, "nope"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	if err := s.TouchToken(ctx, "acme", "tok_1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "acme", "tok_1", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "acme", "tok_1", t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListTokens(ctx, "acme")
	if err != nil || len(list) != 2 || list[0].ID != "tok_1" || list[1].ID != "tok_3" {
		t.Fatalf("ListTokens = %+v, %v", list, err)
	}
	if !list[0].RevokedAt.Equal(t0.Add(2*time.Minute)) || !list[0].LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("revoked token = %+v, want first revocation time kept", list[0])
	}
	if err := s.RevokeToken(ctx, "acme", "tok_missing", t0); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
}

func testTokensTenantScoped(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex")
	ctx := context.Background()
	if err := s.CreateToken(ctx, hub.Token{ID: "tok_a", TenantID: "acme", Label: "a", Hash: "h-a", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, "globex", "tok_a", t0); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("globex revoked acme's token: %v", err)
	}
	if err := s.TouchToken(ctx, "globex", "tok_a", t0); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("globex touched acme's token: %v", err)
	}
	if l, _ := s.ListTokens(ctx, "globex"); len(l) != 0 {
		t.Fatalf("globex lists acme's tokens: %+v", l)
	}
	if got, _ := s.TokenByHash(ctx, "h-a"); !got.RevokedAt.IsZero() {
		t.Fatal("cross-tenant revoke took effect")
	}
	if err := s.CreateToken(ctx, hub.Token{ID: "tok_g", TenantID: "ghost", Label: "x", Hash: "h-g", CreatedAt: t0}); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("token for a missing tenant: %v, want ErrNotFound", err)
	}
}

func testCredentials(t *testing.T, s hub.Store) {
	withTenants(t, s, "acme", "globex")
	ctx := context.Background()
	c := hub.Credential{ID: "phc_1", TenantID: "acme", Role: "admin", Label: "terraform", SecretHash: "sh-1", CreatedAt: t0}
	if err := s.CreateCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCredential(ctx, c); !errors.Is(err, hub.ErrConflict) {
		t.Fatalf("duplicate: %v", err)
	}
	got, err := s.CredentialByID(ctx, "phc_1")
	if err != nil || got.TenantID != "acme" || got.Role != "admin" || got.SecretHash != "sh-1" || got.Label != "terraform" {
		t.Fatalf("CredentialByID = %+v, %v", got, err)
	}
	if err := s.TouchCredential(ctx, "acme", "phc_1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeCredential(ctx, "globex", "phc_1", t0); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("cross-tenant revoke: %v", err)
	}
	if err := s.RevokeCredential(ctx, "acme", "phc_1", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListCredentials(ctx, "acme")
	if err != nil || len(list) != 1 || !list[0].RevokedAt.Equal(t0.Add(2*time.Minute)) || !list[0].LastUsedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ListCredentials = %+v, %v", list, err)
	}
	if l, _ := s.ListCredentials(ctx, "globex"); len(l) != 0 {
		t.Fatalf("globex sees acme's credentials")
	}
	if _, err := s.CredentialByID(ctx, "phc_none"); !errors.Is(err, hub.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}
