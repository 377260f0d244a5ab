package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrUnauthenticated reports missing, malformed, unknown, expired or revoked
// credentials. Callers answer 401 and never say which check failed; the
// wrapped detail is for logs and never contains the secret.
var ErrUnauthenticated = errors.New("auth: unauthenticated")

// Lookup finds what stands behind a credential (the hub, which owns the
// token and credential liveness rules). Refusals wrap ErrUnauthenticated
// with a reason for the log; any other error is a failure to look (a store
// outage) and is passed on.
type Lookup interface {
	// HeartbeatToken returns the principal of the live heartbeat token
	// whose secret hashes to hash.
	HeartbeatToken(ctx context.Context, hash string) (Principal, error)
	// CheckCredential confirms that the admin API credential id still
	// exists, is not revoked, and belongs to tenant with role.
	CheckCredential(ctx context.Context, id, tenant string, role Role) error
}

// Authenticator turns an Authorization header into a Principal: heartbeat
// tokens (phb_…) are looked up by hash; anything else must be a valid admin
// JWT. It is the one place that decides who a caller is.
type Authenticator struct {
	lookup   Lookup
	verifier *Verifier
}

// NewAuthenticator returns an Authenticator. verifier may be nil, in which
// case no admin JWT is accepted.
func NewAuthenticator(lookup Lookup, verifier *Verifier) *Authenticator {
	return &Authenticator{lookup: lookup, verifier: verifier}
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
// Every refusal wraps ErrUnauthenticated; a failure to look (a store
// outage) wraps the lookup's error instead, so callers answer 503 rather
// than 401.
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
	p, err := a.lookup.HeartbeatToken(ctx, HashSecret(raw))
	if err != nil {
		return Principal{}, fmt.Errorf("heartbeat token: %w", err)
	}
	p.Kind = KindHeartbeat
	return p, nil
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
	if claims.ExpiresAt != nil {
		p.Expires = claims.ExpiresAt.Time
	}
	if p.IsPlatform() {
		p.TenantID = ""
	}
	// JWTs minted for an API credential die with the credential, not 15
	// minutes later.
	if strings.HasPrefix(claims.Subject, PrefixClientID) {
		if err := a.lookup.CheckCredential(ctx, claims.Subject, claims.Tenant, claims.Role); err != nil {
			return Principal{}, fmt.Errorf("admin credential: %w", err)
		}
	}
	return p, nil
}

// The issuer and audience of the JWTs the hub signs with its own key.
const (
	LocalIssuer   = "proxyhub"
	LocalAudience = "proxyhub-admin"
)
