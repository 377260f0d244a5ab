package hub

import (
	"context"
	"log/slog"
	"time"
)

// SweepBatch is the most proxies one ExpireProxies call flips; a sweep
// repeats until less than a batch comes back.
const SweepBatch = 1000

// FlipObserver is told about offline flips (metrics).
type FlipObserver interface {
	ProxiesFlipped(offline int, sweep time.Duration)
}

// Sweeper flips proxies offline when their deadline passes. Its cost
// follows the number of proxies that expire, not the fleet: the store
// finds them by deadline. Several hubs may run one each; only the one that
// holds the store's leadership sweeps, and the store flips each proxy once
// even when two sweep at the same time.
type Sweeper struct {
	store LivenessStore
	now   func() time.Time
	log   *slog.Logger
	obs   FlipObserver
	// Every is the longest pause between sweeps; flips land at most this
	// long after their deadline (plus the sweep itself).
	Every time.Duration
}

// NewSweeper returns a sweeper over st with the given clock (nil:
// time.Now), logger and optional observer, sweeping at least every 250 ms.
func NewSweeper(st LivenessStore, now func() time.Time, log *slog.Logger, obs FlipObserver) *Sweeper {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Sweeper{store: st, now: now, log: log, obs: obs, Every: 250 * time.Millisecond}
}

// SweepOnce flips every proxy due at the clock's current time and returns
// the offline events, recorded at each proxy's deadline.
func (s *Sweeper) SweepOnce(ctx context.Context) ([]Event, error) {
	start := time.Now()
	now := s.now()
	var all []Event
	for {
		evs, err := s.store.ExpireProxies(ctx, now, SweepBatch)
		if err != nil {
			return all, err
		}
		all = append(all, evs...)
		if len(evs) < SweepBatch {
			break
		}
	}
	if len(all) > 0 {
		s.log.LogAttrs(ctx, slog.LevelInfo, "proxies_offline", slog.Int("count", len(all)),
			slog.Float64("sweep_ms", float64(time.Since(start).Microseconds())/1000))
		for _, e := range all {
			s.log.LogAttrs(ctx, slog.LevelDebug, "offline", slog.String("tenant", e.TenantID),
				slog.String("proxy", e.Proxy), slog.Time("deadline", e.At))
		}
	}
	if s.obs != nil {
		s.obs.ProxiesFlipped(len(all), time.Since(start))
	}
	return all, nil
}

// Run sweeps until ctx ends, while this hub leads: it sleeps until the
// next deadline or Every, whichever is sooner. Errors are logged and the
// loop goes on (a database outage must not stop the hub).
func (s *Sweeper) Run(ctx context.Context) error {
	const leadership = "proxyhub-sweeper"
	for {
		wait := s.Every
		lead, err := s.store.Leader(ctx, leadership)
		if err == nil && lead {
			if _, err = s.SweepOnce(ctx); err == nil {
				if next, nerr := s.store.NextDeadline(ctx); nerr == nil && !next.IsZero() {
					wait = min(wait, max(next.Sub(s.now()), 10*time.Millisecond))
				}
			}
		}
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "sweep failed", slog.String("error", err.Error()))
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}
