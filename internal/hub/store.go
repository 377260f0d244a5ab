package hub

// The storage contract: the records the hub keeps and the Store interface
// that the embedded (SQLite), in-memory and PostgreSQL implementations
// satisfy.
// The hub decides; a store keeps and returns what it decided. Every record
// belongs to a tenant and every method that reads or writes tenant data is
// scoped to one; the only cross-tenant reads are the credential lookups
// that authentication needs (TokenByHash, CredentialByID), and tenant
// administration.

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap them; callers test with errors.Is.
var (
	// ErrNotFound: the addressed record does not exist in the caller's tenant.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a record with the same identity already exists.
	ErrConflict = errors.New("store: already exists")
	// ErrUnavailable: the database cannot be reached or did not answer in
	// time. Nothing was written; callers should retry later.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrQuotaExceeded: a new proxy would exceed the tenant's max_proxies.
	ErrQuotaExceeded = errors.New("store: proxy quota exceeded")
	// ErrNotRegistered: the proxy does not exist and the heartbeat may not
	// create it.
	ErrNotRegistered = errors.New("store: proxy not registered")
	// ErrTokenRevoked: the heartbeat token that authenticated a heartbeat
	// was revoked, has expired or is gone by the time the heartbeat is
	// written; nothing was written. Callers answer as to any invalid
	// credential (401).
	ErrTokenRevoked = errors.New("store: heartbeat token revoked or expired")
)

// TokenTouchInterval is how stale a heartbeat token's last_used_at may be:
// a store may skip moving it forward by less than this, so that heartbeats
// sharing one token do not all write (and lock) its row.
const TokenTouchInterval = 10 * time.Second

// Store keeps tenants, credentials, proxies, the audit trail, the event
// stream with the online/offline state machine, and webhooks.
// Implementations are safe for concurrent use and must pass the storetest
// conformance suites (Run and RunLiveness).
type Store interface {
	TenantStore
	CredentialStore
	ProxyStore
	AuditStore
	LivenessStore
	WebhookStore
	BadgeStore
	FleetStore
	MaintenanceStore

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store's resources after pending writes finish.
	Close() error
}
