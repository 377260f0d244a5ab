package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/proxyhub/proxyhub/internal/hub"
)

const tokenColumns = `id, tenant_id, label, hash, proxy, allowed_cidrs, expires_at, created_at, last_used_at, revoked_at`

func scanToken(row pgx.Row) (hub.Token, error) {
	var t hub.Token
	var expires, lastUsed, revoked pgtype.Timestamptz
	err := row.Scan(&t.ID, &t.TenantID, &t.Label, &t.Hash, &t.Proxy, &t.AllowedCIDRs,
		&expires, &t.CreatedAt, &lastUsed, &revoked)
	t.AllowedCIDRs = fromCIDRs(t.AllowedCIDRs)
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromTimestamptz(expires), fromTimestamptz(lastUsed), fromTimestamptz(revoked)
	t.CreatedAt = t.CreatedAt.UTC()
	return t, err
}

// CreateToken implements hub.CredentialStore. Token ids are unique within
// a tenant, hashes across all tenants.
func (s *Store) CreateToken(ctx context.Context, t hub.Token) error {
	what := fmt.Sprintf("postgres: create token %q", t.ID)
	return s.inScope(ctx, tenantScope(t.TenantID), what, func(b *pgx.Batch) {
		b.Queue(`INSERT INTO heartbeat_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			t.ID, t.TenantID, t.Label, t.Hash, t.Proxy, cidrs(t.AllowedCIDRs),
			timestamptz(t.ExpiresAt), t.CreatedAt, timestamptz(t.LastUsedAt), timestamptz(t.RevokedAt),
		).Exec(ignoreTag)
	})
}

// TokenByHash implements hub.CredentialStore, in a scope that can see
// only the token with this hash.
// Tokens found are cached (tokencache.go); a cached token's LastUsedAt
// may be up to Options.TokenCacheTTL old (ListTokens reads it fresh).
func (s *Store) TokenByHash(ctx context.Context, hash string) (hub.Token, error) {
	if t, ok := s.tokens.get(hash); ok {
		return t, nil
	}
	gen, read := s.tokens.generation(), time.Now()
	var t hub.Token
	err := s.inScope(ctx, tokenHashScope(hash), "postgres: token by hash", func(b *pgx.Batch) {
		b.Queue(`SELECT `+tokenColumns+` FROM heartbeat_tokens WHERE hash = $1`, hash).QueryRow(func(row pgx.Row) (err error) {
			t, err = scanToken(row)
			return err
		})
	})
	if err == nil {
		s.tokens.put(t, read, gen)
	}
	return t, err
}

// ListTokens implements hub.CredentialStore: oldest first (by creation
// time, then id).
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]hub.Token, error) {
	return listOfTenant(ctx, s, tenantID, "tokens", `SELECT `+tokenColumns+` FROM heartbeat_tokens WHERE tenant_id = $1 ORDER BY created_at, id`, scanToken)
}

// RevokeToken implements hub.CredentialStore.
func (s *Store) RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error {
	defer s.tokens.drop(tenantID, id)
	return s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: revoke token %q", id), func(b *pgx.Batch) {
		b.Queue(`UPDATE heartbeat_tokens SET revoked_at = coalesce(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`,
			tenantID, id, at).Exec(affectedOne)
		// Every hub's token cache forgets it (tokencache.go), at commit.
		b.Queue(`SELECT pg_notify('`+tokensChannel+`', $1 || '/' || $2)`, tenantID, id).Exec(ignoreTag)
	})
}

// TouchToken implements hub.CredentialStore; last_used_at never moves
// back.
func (s *Store) TouchToken(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: touch token %q", id), func(b *pgx.Batch) {
		b.Queue(`UPDATE heartbeat_tokens SET last_used_at = greatest(last_used_at, $3) WHERE tenant_id = $1 AND id = $2`,
			tenantID, id, at).Exec(affectedOne)
	})
}

const credentialColumns = `id, tenant_id, role, label, secret_hash, created_at, last_used_at, revoked_at`

func scanCredential(row pgx.Row) (hub.Credential, error) {
	var c hub.Credential
	var lastUsed, revoked pgtype.Timestamptz
	err := row.Scan(&c.ID, &c.TenantID, &c.Role, &c.Label, &c.SecretHash, &c.CreatedAt, &lastUsed, &revoked)
	c.LastUsedAt, c.RevokedAt = fromTimestamptz(lastUsed), fromTimestamptz(revoked)
	c.CreatedAt = c.CreatedAt.UTC()
	return c, err
}

// CreateCredential implements hub.CredentialStore. Client ids are unique
// across tenants.
func (s *Store) CreateCredential(ctx context.Context, c hub.Credential) error {
	what := fmt.Sprintf("postgres: create credential %q", c.ID)
	return s.inScope(ctx, tenantScope(c.TenantID), what, func(b *pgx.Batch) {
		b.Queue(`INSERT INTO admin_credentials (`+credentialColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			c.ID, c.TenantID, c.Role, c.Label, c.SecretHash, c.CreatedAt,
			timestamptz(c.LastUsedAt), timestamptz(c.RevokedAt),
		).Exec(ignoreTag)
	})
}

// CredentialByID implements hub.CredentialStore, in a scope that can see
// only the credential with this id.
func (s *Store) CredentialByID(ctx context.Context, id string) (hub.Credential, error) {
	var c hub.Credential
	err := s.inScope(ctx, credentialScope(id), fmt.Sprintf("postgres: credential %q", id), func(b *pgx.Batch) {
		b.Queue(`SELECT `+credentialColumns+` FROM admin_credentials WHERE id = $1`, id).QueryRow(func(row pgx.Row) (err error) {
			c, err = scanCredential(row)
			return err
		})
	})
	return c, err
}

// ListCredentials implements hub.CredentialStore: oldest first.
func (s *Store) ListCredentials(ctx context.Context, tenantID string) ([]hub.Credential, error) {
	return listOfTenant(ctx, s, tenantID, "credentials", `SELECT `+credentialColumns+` FROM admin_credentials WHERE tenant_id = $1 ORDER BY created_at, id`, scanCredential)
}

// RevokeCredential implements hub.CredentialStore; revoking twice keeps
// the first time.
func (s *Store) RevokeCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: revoke credential %q", id), func(b *pgx.Batch) {
		b.Queue(`UPDATE admin_credentials SET revoked_at = coalesce(revoked_at, $3) WHERE tenant_id = $1 AND id = $2`,
			tenantID, id, at).Exec(affectedOne)
	})
}

// TouchCredential implements hub.CredentialStore; last_used_at never
// moves back.
func (s *Store) TouchCredential(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.inScope(ctx, tenantScope(tenantID), fmt.Sprintf("postgres: touch credential %q", id), func(b *pgx.Batch) {
		b.Queue(`UPDATE admin_credentials SET last_used_at = greatest(last_used_at, $3) WHERE tenant_id = $1 AND id = $2`,
			tenantID, id, at).Exec(affectedOne)
	})
}
