package hub

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// EventType names what happened to a proxy.
type EventType string

// The event types of a tenant's event stream.
const (
	EventRegistered EventType = "registered" // first heartbeat of a name
	EventIPChanged  EventType = "ip_changed" // heartbeat from a new IP
	EventOffline    EventType = "offline"    // the deadline passed without a heartbeat
	EventOnline     EventType = "online"     // heartbeat of an offline proxy
	EventDenied     EventType = "denied"     // heartbeat refused by the source-IP policy
)

// Event is one entry of a tenant's event stream. Events are append-only.
type Event struct {
	ID       int64 // increases with insertion order across the whole store
	TenantID string
	Type     EventType
	Proxy    string
	At       time.Time  // when it happened; for offline, the deadline itself
	OldIP    netip.Addr // ip_changed: the previous IP
	NewIP    netip.Addr // registered, ip_changed, online: the current IP; denied: the refused IP
}

// EventQuery selects events of one tenant. The zero value selects all of
// them, newest first.
type EventQuery struct {
	Types     []EventType // only these types; empty: all
	Proxy     string
	Since     time.Time // At at or after
	Until     time.Time // At before
	Ascending bool      // oldest first (streams) instead of newest first (pages)
	AfterID   int64     // only ids above this (ascending cursor, SSE Last-Event-ID)
	BeforeID  int64     // only ids below this (descending cursor)
	Limit     int       // 0: all
}

// LivenessStore keeps the event stream and the online/offline state
// machine. A proxy's deadline is its last heartbeat plus its offline
// timeout (its own override, else its tenant's offline_after); it is kept
// with the proxy so that finding expired proxies costs what expires, not
// the fleet.
type LivenessStore interface {
	// ScanEvents calls fn for each event of the tenant matching q, in q's
	// order, streaming; it stops at fn's first error and returns it.
	ScanEvents(ctx context.Context, tenantID string, q EventQuery, fn func(Event) error) error

	// ExpireProxies flips to offline, across all tenants, every online and
	// unpaused proxy whose deadline is before now (exactly at the deadline a
	// proxy is still online, as for status) — at most limit of
	// them, earliest deadline first — and appends an offline event for each
	// with At = the deadline. A proxy is flipped once however many hubs
	// sweep at the same time. It returns the events, ordered by id.
	ExpireProxies(ctx context.Context, now time.Time, limit int) ([]Event, error)
	// NextDeadline returns when the sweeper should next look: the earliest
	// deadline of any online, unpaused proxy, or an earlier time at which
	// the store has sweeping work of its own (PostgreSQL's check_at); the
	// zero time when there is no online, unpaused proxy.
	NextDeadline(ctx context.Context) (time.Time, error)

	// SetPaused pauses a proxy (no flips, no alerts; heartbeats are still
	// recorded) or resumes it. Resuming sets the deadline to the later of
	// its last heartbeat and at, plus its timeout, so a silent proxy goes
	// offline one timeout after it is resumed. ErrNotFound when missing.
	SetPaused(ctx context.Context, tenantID, name string, paused bool, at time.Time) (Proxy, error)
	// SetOfflineAfter overrides one proxy's offline timeout (0 clears the
	// override and follows the tenant again) and recomputes its deadline.
	SetOfflineAfter(ctx context.Context, tenantID, name string, d time.Duration) (Proxy, error)

	// Leader reports whether this store instance holds the named
	// leadership, trying to take it when it does not. Only one instance
	// among those sharing a database holds it at a time (PostgreSQL: a
	// session advisory lock on a connection of its own); when the holder
	// dies another takes it at its next call. The memory store always
	// leads.
	Leader(ctx context.Context, name string) (bool, error)

	// WatchEvents calls fn with a tenant id whenever events of that tenant
	// may have been appended by any instance sharing the store (PostgreSQL:
	// LISTEN/NOTIFY), until ctx ends. fn must not block for long.
	WatchEvents(ctx context.Context, fn func(tenantID string)) error
}

// Liveness of a proxy, as the store keeps it.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// EventTypes lists every event type, in the order the API documents them.
var EventTypes = []EventType{EventRegistered, EventIPChanged, EventOffline, EventOnline, EventDenied}

// ParseEventTypes validates event type names (duplicates dropped, order
// kept); field names the input in the error.
func ParseEventTypes(field string, names []string) ([]EventType, error) {
	var out []EventType
	for i, n := range names {
		et := EventType(strings.TrimSpace(n))
		if !slices.Contains(EventTypes, et) {
			return nil, &FieldError{fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q is not one of registered, ip_changed, offline, online, denied", clip(n))}
		}
		if !slices.Contains(out, et) {
			out = append(out, et)
		}
	}
	return out, nil
}
