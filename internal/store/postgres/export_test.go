package postgres

import (
	"context"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// WriteBatchForTest writes hbs as one batch, in this order, as the batcher
// would, and returns each heartbeat's result and error; the last error is
// the batch's own (nothing was written then).
func (s *Store) WriteBatchForTest(ctx context.Context, hbs []hub.Heartbeat) ([]hub.HeartbeatResult, []error, error) {
	items := make([]*pending, len(hbs))
	for i, hb := range hbs {
		items[i] = &pending{ctx: ctx, hb: hb, done: make(chan outcome, 1)}
	}
	outs, err := s.writeRetrying(ctx, items)
	if err != nil {
		return nil, nil, err
	}
	res, errs := make([]hub.HeartbeatResult, len(outs)), make([]error, len(outs))
	for i, o := range outs {
		res[i], errs[i] = o.res, o.err
	}
	return res, errs, nil
}

// The sweep's statements, for tests and benchmarks that look at their plans.
const (
	SweepSelectSQL = sweepSelectSQL
	ExpireSQL      = expireSQL
	// SweepPlannerSQL is the sweep transaction's planner settings.
	SweepPlannerSQL = sweepPlannerSQL
)

// BeatSQL is the heartbeat batch's statement and PlannerSQL the settings
// its transaction runs it with, for tests of its plan.
const (
	BeatSQL    = beatSQL
	PlannerSQL = plannerSQL
)

// WaitTokenWatchForTest waits until the store listens to token revocations
// (its first connection empties the token cache, which would race a test
// that fills it).
func (s *Store) WaitTokenWatchForTest(ctx context.Context) error {
	select {
	case <-s.tokenWatchReady:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
