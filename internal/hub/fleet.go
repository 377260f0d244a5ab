package hub

import (
	"context"
	"time"
)

// FleetCount is how many of a tenant's proxies are in each state at one
// instant (the Prometheus fleet gauges).
type FleetCount struct {
	TenantID string
	Online   int // not paused, deadline not passed
	Offline  int // not paused, deadline passed
	Paused   int // in maintenance
}

// NotificationCount sums up one tenant's notification targets of one kind.
type NotificationCount struct {
	TenantID string
	Kind     string
	// Pending is how many enabled targets have events after their cursor
	// (not yet delivered, nor passed over as not theirs).
	Pending int
	// Failing is how many enabled targets are retrying a failed delivery.
	Failing int
	// OldestPending is the time of the oldest event some target has yet to
	// handle; zero when none is pending.
	OldestPending time.Time
}

// FleetStore counts across tenants, for the metrics: one query each, never
// one per proxy.
type FleetStore interface {
	// FleetCounts returns every tenant's proxy counts at now (tenants
	// without proxies included), sorted by tenant id.
	FleetCounts(ctx context.Context, now time.Time) ([]FleetCount, error)
	// NotificationCounts returns per tenant and kind the counts of its
	// enabled webhooks, sorted by tenant id, then kind.
	NotificationCounts(ctx context.Context) ([]NotificationCount, error)
}
