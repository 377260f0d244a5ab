// Package eventbus wakes a hub's live subscribers when their tenant's event
// stream grows. It carries no events, only wake-ups: a subscriber reads the
// new events from the store after its last id, so a lost or merged wake-up
// never loses an event, and events appended by other hubs sharing the
// database arrive through the store's watch (PostgreSQL LISTEN/NOTIFY).
package eventbus

import (
	"context"
	"sync"
)

// Watcher reports tenants whose events may have grown (the store).
type Watcher interface {
	WatchEvents(ctx context.Context, fn func(tenantID string)) error
}

// Bus fans wake-ups out to subscribers by tenant. The zero value is ready.
type Bus struct {
	mu   sync.Mutex
	subs map[string]map[chan struct{}]struct{}
}

// Run feeds the bus from w until ctx ends.
func (b *Bus) Run(ctx context.Context, w Watcher) error { return w.WatchEvents(ctx, b.Wake) }

// Wake tells the tenant's subscribers to look for new events. It never
// blocks: a subscriber that has not looked yet keeps one pending wake-up.
func (b *Bus) Wake(tenantID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[tenantID] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Subscribe returns a channel that receives a value after the tenant's
// events grow, and a function that ends the subscription.
func (b *Bus) Subscribe(tenantID string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = map[string]map[chan struct{}]struct{}{}
	}
	if b.subs[tenantID] == nil {
		b.subs[tenantID] = map[chan struct{}]struct{}{}
	}
	b.subs[tenantID][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs[tenantID], ch)
		if len(b.subs[tenantID]) == 0 {
			delete(b.subs, tenantID)
		}
		b.mu.Unlock()
	}
}
