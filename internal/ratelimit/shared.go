package ratelimit

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// SharedRetry is how long limiters keep to their own buckets after Redis
// failed before they try it again.
const SharedRetry = time.Second

// Shared makes limiters share their buckets across hubs through one Redis
// server (Limiter.Share). While Redis cannot be reached every limiter
// falls back to its own in-memory buckets, per hub as without Redis (fail
// open to local limits, never to no limits), tries Redis again every
// SharedRetry, and goes back to it when it answers. The change is logged
// once each way and reported to OnChange. Safe for concurrent use.
type Shared struct {
	client redis.UniversalClient
	log    *slog.Logger
	// onChange is told whether Redis is in use, at each change.
	onChange func(up bool)
	down     atomic.Bool
	retryAt  atomic.Int64 // Unix ns after which a down Redis is tried again
	lastErr  atomic.Value // string: why Redis was last given up
}

// NewShared returns a Shared on client (its owner closes it). log gets
// the changes; onChange (optional) is told of them too.
func NewShared(client redis.UniversalClient, log *slog.Logger, onChange func(up bool)) *Shared {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if onChange == nil {
		onChange = func(bool) {}
	}
	s := &Shared{client: client, log: log, onChange: onChange}
	s.lastErr.Store("")
	onChange(true)
	return s
}

// Up reports whether limits are shared through Redis now (false while
// they fall back to per-hub buckets), and why not.
func (s *Shared) Up() (bool, string) {
	if !s.down.Load() {
		return true, ""
	}
	return false, s.lastErr.Load().(string)
}

// try reports whether the next operation should go to Redis.
func (s *Shared) try() bool {
	return !s.down.Load() || time.Now().UnixNano() >= s.retryAt.Load()
}

// failed records that Redis did not answer (err), unless the caller's
// context ended, which says nothing about Redis.
func (s *Shared) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	s.retryAt.Store(time.Now().Add(SharedRetry).UnixNano())
	s.lastErr.Store(err.Error())
	if !s.down.Swap(true) {
		s.log.Warn("rate limits: Redis is unreachable; each hub limits on its own until it returns", "error", err.Error())
		s.onChange(false)
	}
}

// succeeded records that Redis answered.
func (s *Shared) succeeded() {
	if s.down.Load() && s.down.Swap(false) {
		s.log.Info("rate limits: Redis answers again; limits are shared across hubs")
		s.onChange(true)
	}
}
