package hub

import (
	"context"
	"net/netip"
	"time"
)

// Token is a heartbeat token. Only the hash of its secret is kept.
type Token struct {
	ID           string
	TenantID     string
	Label        string
	Hash         string         // hex SHA-256 of the secret
	Proxy        string         // the only proxy name it may heartbeat; empty: any
	AllowedCIDRs []netip.Prefix // source networks it may be used from; empty: any
	ExpiresAt    time.Time      // zero: never
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero: never used
	RevokedAt    time.Time // zero: active
}

// LiveAt reports whether the token may authenticate a heartbeat at time at:
// not revoked, and not expired by then. (The PostgreSQL store's batch
// statement applies the same rule in SQL.)
func (t *Token) LiveAt(at time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || at.Before(t.ExpiresAt))
}

// Credential is an admin API client (OAuth2 client credentials). Only the
// hash of its secret is kept.
type Credential struct {
	ID         string // the client_id
	TenantID   string
	Role       string
	Label      string
	SecretHash string
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// CredentialStore keeps heartbeat tokens and admin API credentials.
type CredentialStore interface {
	// CreateToken stores a new token; ErrConflict when its id or hash exists.
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash finds a token of any tenant by the hash of its secret
	// (authentication), revoked or not; ErrNotFound when none matches.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// ListTokens returns the tenant's tokens, oldest first, revoked included.
	ListTokens(ctx context.Context, tenantID string) ([]Token, error)
	// RevokeToken marks a token revoked at the given time; revoking twice
	// keeps the first time. ErrNotFound when it is not the tenant's.
	RevokeToken(ctx context.Context, tenantID, id string, at time.Time) error
	// TouchToken sets a token's last_used_at (RecordHeartbeat does this
	// itself for the token that authenticated the heartbeat).
	TouchToken(ctx context.Context, tenantID, id string, at time.Time) error

	// CreateCredential stores a new admin credential; ErrConflict on a
	// duplicate id.
	CreateCredential(ctx context.Context, c Credential) error
	// CredentialByID finds a credential of any tenant by client id
	// (authentication); ErrNotFound when none matches.
	CredentialByID(ctx context.Context, id string) (Credential, error)
	// ListCredentials returns the tenant's credentials, oldest first.
	ListCredentials(ctx context.Context, tenantID string) ([]Credential, error)
	// RevokeCredential marks a credential revoked; ErrNotFound when it is
	// not the tenant's.
	RevokeCredential(ctx context.Context, tenantID, id string, at time.Time) error
	// TouchCredential sets a credential's last_used_at.
	TouchCredential(ctx context.Context, tenantID, id string, at time.Time) error
}
