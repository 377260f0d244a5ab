package hub

import (
	"context"
	"net/netip"
	"time"
)

// Heartbeat is one accepted heartbeat to be recorded.
type Heartbeat struct {
	TenantID string
	Name     string
	IP       netip.Addr // resolved client IP (the audited fact)
	PeerIP   netip.Addr // raw socket peer
	At       time.Time
	// TokenID is the heartbeat token that authenticated the call (empty:
	// none). The heartbeat is written only if that token is still live
	// (not revoked, not expired at At) when it is written, else it fails
	// with ErrTokenRevoked; its last_used_at moves to At (the PostgreSQL
	// store moves it at most every TokenTouchInterval).
	TokenID   string
	RequestID string
	// MayCreate allows the heartbeat to create the proxy when it does not
	// exist yet; otherwise a new name fails with ErrNotRegistered.
	MayCreate bool
	// MaxProxies caps the tenant's proxies when creating one (0: no cap);
	// beyond it a new name fails with ErrQuotaExceeded.
	MaxProxies int
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

	// State is StateOnline or StateOffline as the sweeper last decided.
	State string
	// Paused proxies are in maintenance: no flips, no alerts.
	Paused bool
	// OfflineAfter is this proxy's own timeout; 0 follows the tenant's.
	OfflineAfter time.Duration
	// Deadline is when the proxy goes offline without another heartbeat.
	Deadline time.Time
}

// HeartbeatResult is what recording a heartbeat did.
type HeartbeatResult struct {
	Proxy      Proxy      // state after the heartbeat
	Created    bool       // first heartbeat of this name in the tenant
	Changed    bool       // IP differs from the previous heartbeat
	PreviousIP netip.Addr // the previous IP, valid only when Changed
	ChangeID   int64      // id of the IPChange record, valid only when Changed
	CameOnline bool       // the proxy was offline and this heartbeat brought it back
}

// ProxyQuery selects proxies of one tenant. The zero value selects all of
// them, sorted by name.
type ProxyQuery struct {
	NamePrefix string // only names starting with this
	After      string // only names sorted after this (keyset cursor)
	Limit      int    // at most this many; 0 means no limit
	// DeadlineBefore: only proxies whose deadline is before this (offline
	// at this time: each proxy's own timeout counts).
	DeadlineBefore time.Time
	// DeadlineFrom: only proxies whose deadline is at or after this
	// (online at this time).
	DeadlineFrom time.Time
}

// ProxyStore keeps the current state of proxies.
type ProxyStore interface {
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
	// DeleteProxy removes a proxy (decommission); its IP-change history is
	// kept. ErrNotFound when it does not exist.
	DeleteProxy(ctx context.Context, tenantID, name string) error
}
