// Package hub is proxyhub's domain and the only door to it: every rule the
// product decides lives here once — proxy names, the default timeout,
// tenant settings and quotas, token liveness, IP-change semantics, liveness
// and history queries. The HTTP layer calls nothing else; the stores
// (internal/store/memory, internal/store/postgres) keep and return what the
// hub decided, behind the Store interface this package declares.
//
// The hub knows nothing of HTTP or SQL; it is given a store and a clock, so
// its time rules are tested without sleeping.
package hub

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/secretbox"
)

// DefaultOfflineAfter is how long a proxy may stay silent before it counts
// as offline: the seed hub's TIMEOUT_MS of 80 000.
const DefaultOfflineAfter = 80 * time.Second

// Status is a proxy's liveness.
type Status string

// The liveness states a proxy can be in.
const (
	Online  Status = "online"
	Offline Status = "offline"
)

// Observer is told about every recorded heartbeat (metrics).
type Observer interface {
	HeartbeatRecorded(created, changed bool)
}

// Options configures a Service.
type Options struct {
	Store Store
	Clock func() time.Time // defaults to time.Now
	// OfflineAfter is the timeout of tenants created without one, and of
	// any tenant that has none set; defaults to DefaultOfflineAfter.
	OfflineAfter time.Duration
	Logger       *slog.Logger // defaults to slog.Default()
	Observer     Observer     // optional
	Sources      SourcePolicy // optional: nil accepts every source IP
	// Signer mints the access tokens of the client credentials exchange;
	// nil disables the exchange.
	Signer *auth.Signer
	// Notifier validates webhook destinations and sends test messages;
	// nil refuses webhooks.
	Notifier Notifier
	// Secrets seals webhook signing secrets before they are stored; the
	// notifier must open them with the same key. Nil: a key of this
	// process only, for tests (stored secrets do not open after a restart).
	Secrets *secretbox.Box
	// OnTenantChange is told of every tenant created or changed through
	// the hub (the policy engine keeps its tenant data with it).
	OnTenantChange func(context.Context, Tenant) error
	// LogEachHeartbeat logs every heartbeat at info level (the seed's
	// "✅ update" lines of the text format). Otherwise only IP changes are
	// at info and plain heartbeats at debug.
	LogEachHeartbeat bool
}

// Service applies the product's rules over a Store.
type Service struct {
	store          Store
	now            func() time.Time
	offlineAfter   time.Duration
	log            *slog.Logger
	obs            Observer
	sources        SourcePolicy
	signer         *auth.Signer
	notifier       Notifier
	secrets        *secretbox.Box
	onTenantChange func(context.Context, Tenant) error
	tenants        tenantCache
	badges         badgeCache
	windows        windowCache
	// heartbeatLevel is the level of the line logged for a heartbeat that
	// changed no IP.
	heartbeatLevel slog.Level
}

// New returns a Service; Options.Store is required.
func New(o Options) *Service {
	s := &Service{store: o.Store, now: o.Clock, offlineAfter: o.OfflineAfter, log: o.Logger, obs: o.Observer,
		sources: o.Sources, signer: o.Signer, notifier: o.Notifier, secrets: o.Secrets, onTenantChange: o.OnTenantChange}
	if s.secrets == nil {
		s.secrets = processBox()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.offlineAfter < MinOfflineAfter || s.offlineAfter > MaxOfflineAfter {
		s.offlineAfter = DefaultOfflineAfter
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.heartbeatLevel = slog.LevelDebug
	if o.LogEachHeartbeat {
		s.heartbeatLevel = slog.LevelInfo
	}
	s.tenants.now = s.now
	return s
}

// timestamp returns the clock's time truncated to microseconds, as
// PostgreSQL keeps it, so both stores answer alike.
func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Ready reports whether the store can serve requests (readiness probe).
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// tenantChanged drops the tenant's cached settings and tells the
// OnTenantChange hook about t.
func (s *Service) tenantChanged(ctx context.Context, t Tenant) error {
	s.tenants.forget(t.ID)
	if s.onTenantChange == nil {
		return nil
	}
	if err := s.onTenantChange(ctx, t); err != nil {
		return fmt.Errorf("propagate tenant %s: %w", t.ID, err)
	}
	return nil
}
