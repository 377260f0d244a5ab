// Package store defines the storage contract of proxyhub: the records it
// keeps and the Store interface that the embedded (memory) and PostgreSQL
// implementations both satisfy. Every record belongs to a tenant and every
// method is scoped to one; no method reads across tenants.
package store

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// ErrNotFound reports that the addressed record does not exist in the
// caller's tenant.
var ErrNotFound = errors.New("store: not found")

// ErrUnavailable reports that the backing database cannot be reached or did
// not answer in time. Callers should retry later; nothing was written.
var ErrUnavailable = errors.New("store: unavailable")

// Heartbeat is one accepted heartbeat to be recorded.
type Heartbeat struct {
	TenantID  string
	Name      string
	IP        netip.Addr // resolved client IP (the audited fact)
	PeerIP    netip.Addr // raw socket peer
	At        time.Time
	TokenID   string // heartbeat token that authenticated the call, if any
	RequestID string
}

// Proxy is the current state of one proxy.
type Proxy struct {
	TenantID  string
	Name      string
	IP        netip.Addr
	PeerIP    netip.Addr
	CreatedAt time.Time
	LastSeen  time.Time
	IPChanges int64
}

// HeartbeatResult is what recording a heartbeat did.
type HeartbeatResult struct {
	Proxy      Proxy      // state after the heartbeat
	Created    bool       // first heartbeat of this name in the tenant
	Changed    bool       // IP differs from the previous heartbeat
	PreviousIP netip.Addr // the previous IP, valid only when Changed
}

// IPChange is one audit record of a proxy's IP changing. Records are
// append-only: once stored they are never updated or deleted by the
// application.
type IPChange struct {
	ID        int64
	TenantID  string
	Proxy     string
	OldIP     netip.Addr
	NewIP     netip.Addr
	At        time.Time
	TokenID   string
	RequestID string
}

// ProxyQuery selects proxies of one tenant. The zero value selects all of
// them, sorted by name.
type ProxyQuery struct {
	NamePrefix string    // only names starting with this
	After      string    // only names sorted after this (keyset cursor)
	Limit      int       // at most this many; 0 means no limit
	SeenBefore time.Time // only proxies last seen before this (offline filter)
	SeenSince  time.Time // only proxies last seen at or after this (online filter)
}

// Store keeps proxies and their IP-change history. Implementations are safe
// for concurrent use and must pass the storetest conformance suite.
type Store interface {
	// RecordHeartbeat creates or updates the proxy (TenantID, Name) and, when
	// its IP differs from the stored one, appends an IPChange record, all
	// atomically. The decision whether the IP changed is made by the store
	// against its own state, so concurrent hubs sharing it never record one
	// change twice or miss one. It returns only after the result is durable.
	RecordHeartbeat(ctx context.Context, hb Heartbeat) (HeartbeatResult, error)

	// ListProxies returns the tenant's proxies that match q, sorted by name.
	ListProxies(ctx context.Context, tenantID string, q ProxyQuery) ([]Proxy, error)

	// GetProxy returns one proxy, or ErrNotFound.
	GetProxy(ctx context.Context, tenantID, name string) (Proxy, error)

	// ListIPChanges returns the IP-change history of the tenant, newest first.
	// An empty proxy selects every proxy of the tenant.
	ListIPChanges(ctx context.Context, tenantID, proxy string, limit int) ([]IPChange, error)

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error

	// Close releases the store's resources after pending writes finish.
	Close() error
}
