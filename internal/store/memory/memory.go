// Package memory is the in-memory store: everything kept in the process's
// memory, nothing installed, nothing kept across restarts. The hub runs on
// it with --data-dir=:memory: (tests, benchmarks); its default embedded
// store is the durable one in internal/store/sqlite.
package memory

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Store is an in-memory hub.Store. The zero value is not usable; call New.
type Store struct {
	mu           sync.RWMutex // guards the maps below, not the tenants in them
	tenants      map[string]*tenant
	tokensByHash map[string]*hub.Token
	credsByID    map[string]*hub.Credential
	badgesByHash map[string]*hub.Badge
	nextID       atomic.Int64 // last record id handed out (audit records and events)

	hmu       sync.Mutex // guards deadlines; taken after a tenant's lock, never before
	deadlines deadlineHeap

	wmu      sync.Mutex // guards watchers
	watchers map[int]func(tenantID string)
	watchSeq int
}

// tenant holds one tenant's records behind its own lock, so heartbeats of
// different tenants never contend.
type tenant struct {
	mu         sync.RWMutex
	rec        hub.Tenant
	proxies    map[string]*proxyRec
	tokens     []*hub.Token             // oldest first
	tokenByID  map[string]*hub.Token    // the same tokens, by id
	creds      []*hub.Credential        // oldest first
	badges     []*hub.Badge             // oldest first
	windows    []hub.MaintenanceWindow  // oldest first
	changes    boundedLog[hub.IPChange] // append-only, ids increasing
	denied     boundedLog[hub.Denied]   // append-only, ids increasing
	events     boundedLog[hub.Event]    // append-only, ids increasing
	webhooks   []*hub.Webhook           // oldest first
	deliveries boundedLog[hub.Delivery] // append-only, ids increasing
}

// proxyRec is one proxy as the embedded store keeps it: compact (times as
// Unix nanoseconds, no tenant id, flags in a byte), because a hub may hold
// millions. It becomes a hub.Proxy on the way out.
type proxyRec struct {
	name         string
	ip, peer     netip.Addr
	created      int64 // Unix ns
	lastSeen     int64
	deadline     int64
	queued       int64 // deadline of the live heap entry; 0: none (stale entries differ and are dropped)
	ipChanges    int64
	offlineAfter time.Duration // own timeout; 0 follows the tenant
	flags        uint8
}

const (
	flagOffline uint8 = 1 << iota
	flagPaused
	flagDeleted // removed from its tenant; heap entries pointing at it are stale
)

func (p *proxyRec) offline() bool { return p.flags&flagOffline != 0 }
func (p *proxyRec) paused() bool  { return p.flags&flagPaused != 0 }

func (p *proxyRec) set(flag uint8, on bool) {
	if on {
		p.flags |= flag
	} else {
		p.flags &^= flag
	}
}

// view returns the record as the store's Proxy type.
func (p *proxyRec) view(tenantID string) hub.Proxy {
	state := hub.StateOnline
	if p.offline() {
		state = hub.StateOffline
	}
	return hub.Proxy{
		TenantID: tenantID, Name: p.name, IP: p.ip, PeerIP: p.peer,
		CreatedAt: fromNanos(p.created), LastSeen: fromNanos(p.lastSeen), IPChanges: p.ipChanges,
		State: state, Paused: p.paused(), OfflineAfter: p.offlineAfter, Deadline: fromNanos(p.deadline),
	}
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

var _ hub.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		tenants:      make(map[string]*tenant),
		tokensByHash: make(map[string]*hub.Token),
		credsByID:    make(map[string]*hub.Credential),
	}
}

// tenant returns the tenant's state or ErrNotFound.
func (s *Store) tenant(ctx context.Context, id string) (*tenant, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	t := s.tenants[id]
	s.mu.RUnlock()
	if t == nil {
		return nil, fmt.Errorf("tenant %q: %w", id, hub.ErrNotFound)
	}
	return t, nil
}

// Ping implements hub.Store; memory is always reachable.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close implements hub.Store; there is nothing to release.
func (s *Store) Close() error { return nil }
