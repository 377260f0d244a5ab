package hub

import (
	"context"
	"log/slog"
	"time"
)

// PruneBatch is the most records of each kind one PruneHistory call
// deletes: a prune of a long backlog is many short transactions.
const PruneBatch = 10_000

// HistoryPruner deletes history (IP changes, denied heartbeats, events,
// webhook deliveries) older than its retention. Retention is off unless
// the operator sets it (PROXYHUB_HISTORY_RETENTION). Like the sweeper, it
// runs on the hub that holds the store's leadership, so a fleet of hubs
// prunes once.
type HistoryPruner struct {
	store     prunerStore
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger
	// Every is the pause between prunes.
	Every time.Duration
	// Pause is the pause between two batches of one prune, so that a long
	// backlog does not keep the database busy.
	Pause time.Duration
}

// prunerStore is the part of the store the pruner uses.
type prunerStore interface {
	PruneHistory(ctx context.Context, before time.Time, maxRows int) (int64, error)
	Leader(ctx context.Context, name string) (bool, error)
}

var _ prunerStore = Store(nil)

// NewHistoryPruner returns a pruner that keeps retention of history
// (at least MinRetention), pruning every 10 minutes.
func NewHistoryPruner(st prunerStore, retention time.Duration, now func() time.Time, log *slog.Logger) *HistoryPruner {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &HistoryPruner{store: st, retention: retention, now: now, log: log, Every: 10 * time.Minute, Pause: 100 * time.Millisecond}
}

// PruneOnce deletes every record older than the retention, in batches,
// and returns how many it deleted.
func (p *HistoryPruner) PruneOnce(ctx context.Context) (int64, error) {
	before := p.now().Add(-p.retention)
	var total int64
	for {
		n, err := p.store.PruneHistory(ctx, before, PruneBatch)
		total += n
		if err != nil || n < PruneBatch {
			if total > 0 {
				p.log.LogAttrs(ctx, slog.LevelInfo, "history_pruned", slog.Int64("records", total),
					slog.Time("before", before), slog.Int64("retention_ms", p.retention.Milliseconds()))
			}
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(p.Pause):
		}
	}
}

// Run prunes at start and then every p.Every until ctx ends, while this
// hub leads. Errors are logged and the loop goes on.
func (p *HistoryPruner) Run(ctx context.Context) error {
	const leadership = "proxyhub-retention"
	for {
		lead, err := p.store.Leader(ctx, leadership)
		if err == nil && lead {
			_, err = p.PruneOnce(ctx)
		}
		if err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "history prune failed", slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(p.Every):
		}
	}
}
