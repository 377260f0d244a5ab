package auth

import (
	"context"
	"net/netip"
	"slices"
	"time"
)

// Kind says how a principal authenticated.
type Kind string

// The kinds of principal.
const (
	KindHeartbeat Kind = "heartbeat" // a heartbeat token (cron curl)
	KindAdmin     Kind = "admin"     // an admin JWT
)

// Principal is the authenticated caller of one request.
type Principal struct {
	Kind     Kind
	ID       string // token id (heartbeat) or JWT subject (admin)
	TenantID string // the caller's tenant; empty for the platform role
	Role     Role   // admin role; empty for heartbeat tokens
	// Proxy is the only proxy name a bound heartbeat token may heartbeat.
	Proxy string
	// AllowedCIDRs are a heartbeat token's own source networks (empty: any).
	AllowedCIDRs []netip.Prefix
	// Expires is when an admin JWT's exp says it ends (zero: a heartbeat
	// token, which does not). Authentication tolerates Leeway past it for
	// clock skew between hubs; what lasts (an event stream) ends at it.
	Expires time.Time
}

// IsPlatform reports whether the principal operates the whole hub.
func (p Principal) IsPlatform() bool { return p.Kind == KindAdmin && p.Role == RolePlatform }

// LogID is how logs name the principal: kind and id, never a secret.
func (p Principal) LogID() string { return string(p.Kind) + ":" + p.ID }

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	p.AllowedCIDRs = slices.Clip(p.AllowedCIDRs)
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal in ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Prefixes of public identifiers (not secrets).
const (
	PrefixTokenID  = "tok_" // heartbeat token ids
	PrefixClientID = "phc_" // admin API client ids
	PrefixBadgeID  = "bdg_" // status badge ids
)
