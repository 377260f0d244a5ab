// Package handoff settles who decides the fate of a write queued for a
// group commit: its caller, giving up when its context ends, or the writer,
// taking it into a transaction. Exactly one of them wins, once. A caller
// that lost must wait for the writer's outcome: the transaction may commit
// the write, and a caller told "not written" about a committed write would
// report an error for a change that is in the history. The package also
// holds what follows from that for both durable stores: the context a
// batch is written under (BatchContext) and the error a caller gets when
// a context ended (ContextError).
package handoff

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Claim is the handoff state of one queued write. The zero value is
// queued.
type Claim struct {
	state atomic.Int32
}

const (
	queued int32 = iota
	taken
	abandoned
)

// Take claims the write for a transaction about to be sent; false means
// its caller has abandoned it, and it must not be written. Taking a write
// already taken (a transaction run again) succeeds.
func (c *Claim) Take() bool {
	return c.state.CompareAndSwap(queued, taken) || c.state.Load() == taken
}

// Abandon gives the write up for its caller; false means a writer has
// taken it, and the caller must wait for its outcome.
func (c *Claim) Abandon() bool {
	return c.state.CompareAndSwap(queued, abandoned)
}

// Reset makes the claim queued again, for a recycled write.
func (c *Claim) Reset() {
	c.state.Store(queued)
}

// BatchContext returns the context a batch of taken writes is written
// under: derived from parent, ending at the latest of the callers'
// deadlines (a caller without one counts as noDeadline from now), and
// cancelled, with the cause of the last to end, once every caller's
// context has ended. No batch runs on after all who wait for it have
// given up (a shutdown cancelling every request, say), and one caller's
// end does not abort the others' writes. The CancelFunc releases what the
// context holds on the callers' contexts.
func BatchContext(parent context.Context, callers []context.Context, noDeadline time.Duration) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, c := range callers {
		d, ok := c.Deadline()
		if !ok {
			d = time.Now().Add(noDeadline)
		}
		if d.After(latest) {
			latest = d
		}
	}
	ctx, cancelDeadline := context.WithDeadline(parent, latest)
	ctx, cancel := context.WithCancelCause(ctx)
	var left atomic.Int64
	left.Store(int64(len(callers)))
	stops := make([]func() bool, len(callers))
	for i, c := range callers {
		stops[i] = context.AfterFunc(c, func() {
			if left.Add(-1) == 0 {
				cancel(context.Cause(c))
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel(nil)
		cancelDeadline()
	}
}

// ContextError is the error of a store call whose context ended, what
// naming the call: a deadline means the store was too slow
// (hub.ErrUnavailable), a cancellation is the caller's own. The cause
// decides as well as the context's own error: a batch's context ends
// cancelled with the cause of its last caller (BatchContext), a deadline
// among them.
func ContextError(ctx context.Context, what string) error {
	err := context.Cause(ctx)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w: %w", what, hub.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
