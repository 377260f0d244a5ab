package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// ErrUnauthenticated reports missing, malformed, unknown, expired or revoked
// credentials. Callers answer 401 and never say which check failed; the
// wrapped detail is for logs and never contains the secret.
var ErrUnauthenticated = errors.New("auth: unauthenticated")

// Lookup is the part of the store authentication reads.
type Lookup interface {
	TokenByHash(ctx context.Context, hash string) (hub.Token, error)
	CredentialByID(ctx context.Context, id string) (hub.Credential, error)
}

// Authenticator turns an Authorization header into a Principal: heartbeat
// tokens (phb_…) are looked up by hash; anything else must be a valid admin
// JWT. It is the one place that decides who a caller is.
type Authenticator struct {
	lookup   Lookup
	verifier *Verifier
	now      func() time.Time
}

// NewAuthenticator returns an Authenticator. verifier may be nil, in which
// case no admin JWT is accepted.
func NewAuthenticator(lookup Lookup, verifier *Verifier, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{lookup: lookup, verifier: verifier, now: now}
}

// BearerToken extracts the credential of an "Authorization: Bearer …"
// header value (scheme case-insensitive), or "" when there is none.
func BearerToken(header string) string {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}

// Authenticate returns the principal for an Authorization header value.
// Every failure wraps ErrUnauthenticated, except a store outage, which
// wraps hub.ErrUnavailable so callers answer 503 rather than 401.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (Principal, error) {
	raw := BearerToken(header)
	switch {
	case raw == "":
		return Principal{}, fmt.Errorf("%w: no bearer credential", ErrUnauthenticated)
	case strings.HasPrefix(raw, PrefixHeartbeatToken):
		return a.heartbeatToken(ctx, raw)
	default:
		return a.adminJWT(ctx, raw)
	}
}

func (a *Authenticator) heartbeatToken(ctx context.Context, raw string) (Principal, error) {
	if !WellFormed(PrefixHeartbeatToken, raw) {
		return Principal{}, fmt.Errorf("%w: malformed heartbeat token", ErrUnauthenticated)
	}
	hash := HashSecret(raw)
	tok, err := a.lookup.TokenByHash(ctx, hash)
	switch {
	case errors.Is(err, hub.ErrNotFound):
		return Principal{}, fmt.Errorf("%w: unknown heartbeat token", ErrUnauthenticated)
	case err != nil:
		return Principal{}, fmt.Errorf("look up heartbeat token: %w", err)
	case !EqualHashes(tok.Hash, hash):
		return Principal{}, fmt.Errorf("%w: token hash mismatch", ErrUnauthenticated)
	case !tok.RevokedAt.IsZero():
		return Principal{}, fmt.Errorf("%w: heartbeat token %s revoked", ErrUnauthenticated, tok.ID)
	case !tok.ExpiresAt.IsZero() && !a.now().Before(tok.ExpiresAt):
		return Principal{}, fmt.Errorf("%w: heartbeat token %s expired", ErrUnauthenticated, tok.ID)
	}
	return Principal{Kind: KindHeartbeat, ID: tok.ID, TenantID: tok.TenantID, Proxy: tok.Proxy, AllowedCIDRs: tok.AllowedCIDRs}, nil
}

func (a *Authenticator) adminJWT(ctx context.Context, raw string) (Principal, error) {
	if a.verifier == nil {
		return Principal{}, fmt.Errorf("%w: admin JWTs are not configured", ErrUnauthenticated)
	}
	claims, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	p := Principal{Kind: KindAdmin, ID: claims.Subject, TenantID: claims.Tenant, Role: claims.Role}
	if p.IsPlatform() {
		p.TenantID = ""
	}
	// JWTs minted for an API credential die with the credential, not 15
	// minutes later.
	if strings.HasPrefix(claims.Subject, PrefixClientID) {
		c, err := a.lookup.CredentialByID(ctx, claims.Subject)
		switch {
		case errors.Is(err, hub.ErrNotFound):
			return Principal{}, fmt.Errorf("%w: credential %s gone", ErrUnauthenticated, claims.Subject)
		case err != nil:
			return Principal{}, fmt.Errorf("look up credential: %w", err)
		case !c.RevokedAt.IsZero() || c.TenantID != claims.Tenant || c.Role != string(claims.Role):
			return Principal{}, fmt.Errorf("%w: credential %s revoked or changed", ErrUnauthenticated, claims.Subject)
		}
	}
	return p, nil
}

// The issuer and audience of the JWTs the hub signs with its own key.
const (
	LocalIssuer   = "proxyhub"
	LocalAudience = "proxyhub-admin"
)
