// Package handoff settles who decides the fate of a write queued for a
// group commit: its caller, giving up when its context ends, or the writer,
// taking it into a transaction. Exactly one of them wins, once. A caller
// that lost must wait for the writer's outcome: the transaction may commit
// the write, and a caller told "not written" about a committed write would
// report an error for a change that is in the history.
package handoff

import "sync/atomic"

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
