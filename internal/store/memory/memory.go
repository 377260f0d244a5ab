// Package memory is the embedded store: everything kept in the process's
// memory, nothing installed, nothing kept across restarts. It is the default
// when no database URL is configured.
package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxyhub/proxyhub/internal/store"
)

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	mu           sync.RWMutex // guards the maps below, not the tenants in them
	tenants      map[string]*tenant
	tokensByHash map[string]*store.Token
	credsByID    map[string]*store.Credential
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
	rec        store.Tenant
	proxies    map[string]*proxyRec
	tokens     []*store.Token      // oldest first
	creds      []*store.Credential // oldest first
	changes    []store.IPChange    // append-only, ids increasing
	denied     []store.Denied      // append-only, ids increasing
	events     []store.Event       // append-only, ids increasing
	webhooks   []*store.Webhook    // oldest first
	deliveries []store.Delivery    // append-only, ids increasing
}

// proxyRec is a proxy with its place in the deadline heap.
type proxyRec struct {
	store.Proxy
	// queued is the deadline of this proxy's live heap entry; zero when it
	// has none. Entries whose deadline differs are stale and dropped.
	queued time.Time
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		tenants:      make(map[string]*tenant),
		tokensByHash: make(map[string]*store.Token),
		credsByID:    make(map[string]*store.Credential),
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
		return nil, fmt.Errorf("tenant %q: %w", id, store.ErrNotFound)
	}
	return t, nil
}

// Ping implements store.Store; memory is always reachable.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close implements store.Store; there is nothing to release.
func (s *Store) Close() error { return nil }
