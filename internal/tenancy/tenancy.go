// Package tenancy manages tenants and their credentials: tenant settings,
// heartbeat tokens and admin API credentials, and the OAuth2 client
// credentials exchange. Secrets are generated here, shown once, and only
// their hashes are stored.
package tenancy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/hub"
)

// Defaults and limits of tenant settings.
const (
	DefaultOfflineAfter = 80 * time.Second
	MinOfflineAfter     = time.Second
	MaxOfflineAfter     = 24 * time.Hour
	DefaultMaxProxies   = 10000
	MaxMaxProxies       = 10_000_000
	// AccessTokenTTL is the lifetime of a JWT from the client credentials
	// exchange.
	AccessTokenTTL = 15 * time.Minute
)

// FieldError is invalid input, naming the offending field.
type FieldError struct {
	Field  string // e.g. "body.id"
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// FieldName returns the offending field (the HTTP layer reports it).
func (e *FieldError) FieldName() string { return e.Field }

// ErrInvalidClient reports a failed client credentials exchange: unknown
// client, wrong secret, or revoked credential (never which).
var ErrInvalidClient = errors.New("invalid client credentials")

// Service manages tenants and credentials.
type Service struct {
	store    hub.Store
	signer   *auth.Signer
	now      func() time.Time
	onChange func(context.Context, hub.Tenant) error
	// offlineAfter is the timeout new tenants get unless they ask for one.
	offlineAfter time.Duration
}

// SetDefaultOfflineAfter sets the offline timeout new tenants get when
// their creation does not name one (the hub's PROXYHUB_OFFLINE_AFTER);
// DefaultOfflineAfter otherwise. Call it before serving.
func (s *Service) SetDefaultOfflineAfter(d time.Duration) {
	if d >= MinOfflineAfter && d <= MaxOfflineAfter {
		s.offlineAfter = d
	}
}

// OnChange registers fn to be told of every tenant created or changed
// through the service (the policy engine keeps its tenant data with it).
// Call it before serving.
func (s *Service) OnChange(fn func(context.Context, hub.Tenant) error) { s.onChange = fn }

// changed tells the OnChange hook about t.
func (s *Service) changed(ctx context.Context, t hub.Tenant) error {
	if s.onChange == nil {
		return nil
	}
	if err := s.onChange(ctx, t); err != nil {
		return fmt.Errorf("propagate tenant %s: %w", t.ID, err)
	}
	return nil
}

// New returns a Service. signer mints access tokens for the client
// credentials exchange; nil disables it.
func New(s hub.Store, signer *auth.Signer, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: s, signer: signer, now: now, offlineAfter: DefaultOfflineAfter}
}

// now returns the clock's time truncated to microseconds, as PostgreSQL
// keeps it, so both stores answer alike.
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }
