package memory

// The embedded store keeps everything in memory, so its logs are bounded:
// each keeps the newest records up to its limit and forgets the oldest.
// (PostgreSQL keeps the full history; the embedded store is for trying the
// hub and for small fleets, and loses everything at restart anyway.)
const (
	maxAuditRecords = 1_000_000 // IP changes and denied heartbeats, per tenant
	maxEvents       = 100_000   // event stream, per tenant
	maxDeliveries   = 10_000    // webhook delivery log, per tenant
)

// boundedLog is an append-only log that keeps its newest max records.
type boundedLog[T any] struct {
	items []T
	max   int
}

// add appends r, dropping the oldest quarter when the log is full (so the
// copying is amortised).
func (l *boundedLog[T]) add(r T) {
	if l.max > 0 && len(l.items) >= l.max {
		drop := max(l.max/4, 1)
		l.items = append(l.items[:0:0], l.items[drop:]...)
	}
	l.items = append(l.items, r)
}
