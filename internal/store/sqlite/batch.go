package sqlite

import (
	"context"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// The group commit. RecordHeartbeat puts a pending heartbeat on s.queue and
// waits for its outcome. The batcher goroutine gathers pending heartbeats
// into a batch until it holds Options.BatchMax of them or the first has
// waited Options.BatchWait, then hands it to the writer goroutine; while
// the writer is busy the batch keeps growing up to BatchMax, so batches
// grow with the load. The writer writes a batch in one transaction
// (batchtx.go) and answers each heartbeat only after COMMIT. A heartbeat
// whose caller gave up before its batch is written is answered with the
// caller's error and not written.

// pending is one heartbeat waiting for its batch.
type pending struct {
	ctx  context.Context // the caller's: ended before writing means "do not write"
	hb   hub.Heartbeat
	done chan outcome // buffered (1): answering never blocks
}

// outcome is what the writer answers a pending heartbeat.
type outcome struct {
	res hub.HeartbeatResult
	err error
}

// RecordHeartbeat implements hub.ProxyStore. It returns after the
// heartbeat's batch has committed, or with ctx's error when ctx ends first
// (the heartbeat is then written only if its batch was already being
// written).
func (s *Store) RecordHeartbeat(ctx context.Context, hb hub.Heartbeat) (hub.HeartbeatResult, error) {
	const what = "sqlite: record heartbeat"
	if ctx.Err() != nil {
		return hub.HeartbeatResult{}, ctxError(ctx, what)
	}
	p := &pending{ctx: ctx, hb: hb, done: make(chan outcome, 1)}
	if err := s.enqueue(ctx, p); err != nil {
		return hub.HeartbeatResult{}, err
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return hub.HeartbeatResult{}, ctxError(ctx, what)
	}
}

// enqueue hands p to the batcher, unless the store is closed or ctx ends
// first.
func (s *Store) enqueue(ctx context.Context, p *pending) error {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	if s.closed {
		return errClosed
	}
	select {
	case s.queue <- p:
		return nil
	case <-ctx.Done():
		return ctxError(ctx, "sqlite: record heartbeat")
	}
}

// batcher gathers s.queue into batches for s.work until s.queue is closed
// and drained, then closes s.work.
func (s *Store) batcher() {
	defer s.wg.Done()
	defer close(s.work)
	var (
		buf   []*pending
		due   bool // buf's first heartbeat has waited BatchWait
		queue = s.queue
		timer = time.NewTimer(time.Hour)
	)
	timer.Stop()
	for queue != nil || len(buf) > 0 {
		var in <-chan *pending
		if len(buf) < s.opts.BatchMax {
			in = queue
		}
		var out chan<- []*pending
		if len(buf) > 0 && (due || len(buf) >= s.opts.BatchMax || queue == nil) {
			out = s.work
		}
		select {
		case p, ok := <-in:
			if !ok {
				queue = nil
				continue
			}
			buf = append(buf, p)
			if len(buf) == 1 {
				timer.Reset(s.opts.BatchWait)
			}
		case <-timer.C:
			due = true
		case out <- buf:
			buf, due = nil, false
			timer.Stop()
		}
	}
}

// writer writes the batches of s.work until it is closed.
func (s *Store) writer() {
	defer s.wg.Done()
	for batch := range s.work {
		s.writeBatch(batch)
	}
}

// batchContext bounds a batch's transaction by the latest deadline of its
// callers (a caller without one counts as defaultWriteTimeout from now):
// no batch runs on after everyone waiting for it has given up, and one
// caller's cancellation does not abort the others' writes.
func batchContext(batch []*pending) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, p := range batch {
		d, ok := p.ctx.Deadline()
		if !ok {
			d = time.Now().Add(defaultWriteTimeout)
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}
