package sqlite

import (
	"context"
	"sync"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/handoff"
)

// The group commit. RecordHeartbeat puts a pending heartbeat on s.queue and
// waits for its outcome. The writer goroutine takes the queued heartbeats
// as one batch (see writer), writes it in one transaction (batchtx.go) and
// answers each heartbeat after COMMIT; a batch of steady-state heartbeats
// only is answered once decided, its log entries written within
// Options.LogFlush (see the package documentation). A heartbeat whose
// caller gave up before the writer took it into a transaction is answered
// with the caller's error and not written; once taken, its caller waits
// for the outcome (package handoff).

// pending is one heartbeat waiting for its batch.
type pending struct {
	ctx   context.Context // the caller's: ended before writing means "do not write"
	hb    hub.Heartbeat
	done  chan outcome // buffered (1): answering never blocks
	claim handoff.Claim
}

// outcome is what the writer answers a pending heartbeat.
type outcome struct {
	res hub.HeartbeatResult
	err error
}

// RecordHeartbeat implements hub.ProxyStore. It returns after the
// heartbeat's batch has committed (or, for a steady-state heartbeat with
// Options.LogFlush on, once it is decided and applied), or with ctx's
// error when ctx ends before the writer takes the heartbeat (it is then
// not written); once taken, it waits for the batch's outcome, bounded by
// the batch's deadline.
func (s *Store) RecordHeartbeat(ctx context.Context, hb hub.Heartbeat) (hub.HeartbeatResult, error) {
	const what = "sqlite: record heartbeat"
	if ctx.Err() != nil {
		return hub.HeartbeatResult{}, ctxError(ctx, what)
	}
	if s.opts.LogFlush > 0 && s.wmu.TryLock() {
		// The writer is not busy: a steady-state heartbeat needs no trip
		// through the queue (steady.go).
		var res hub.HeartbeatResult
		ok := !s.isClosed()
		if ok {
			res, ok = s.beatSteady(&hb)
		}
		s.wmu.Unlock()
		if ok {
			return res, nil
		}
	}
	p := pendings.Get().(*pending)
	p.ctx, p.hb = ctx, hb
	if err := s.enqueue(ctx, p); err != nil {
		p.recycle()
		return hub.HeartbeatResult{}, err
	}
	select {
	case o := <-p.done:
		p.recycle()
		return o.res, o.err
	case <-ctx.Done():
		if p.claim.Abandon() {
			// The writer may still answer p: it is left to the garbage
			// collector.
			return hub.HeartbeatResult{}, ctxError(ctx, what)
		}
		o := <-p.done
		p.recycle()
		return o.res, o.err
	}
}

// pendings recycles pending heartbeats and their channels: a heartbeat
// would otherwise allocate both.
var pendings = sync.Pool{New: func() any { return &pending{done: make(chan outcome, 1)} }}

// recycle returns p to pendings; its done must be empty and no one may
// send on it any more.
func (p *pending) recycle() {
	p.ctx, p.hb = nil, hub.Heartbeat{}
	p.claim.Reset()
	pendings.Put(p)
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

// writer writes the heartbeats of s.queue in batches until s.queue is
// closed and drained. It takes whatever is queued when it is ready for
// the next batch, up to Options.BatchMax, and waits up to
// Options.BatchWait for more when that falls short: while it writes one
// batch, the next one queues up, so batches grow with the load. It writes
// the log entries of answered steady-state heartbeats at most
// Options.LogFlush after the first of them. Every checkpointEvery, or
// sooner when the log has checkpointRows rows, it folds the heartbeat log
// into the proxies rows, one step (foldChunk rows) between two batches,
// so that no heartbeat waits for a whole fold.
func (s *Store) writer() {
	defer s.wg.Done()
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	flushArmed := false
	last := time.Now()
	batch := make([]*pending, 0, s.opts.BatchMax)
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	for {
		var p *pending
		open, got := true, false
		if s.folding() { // between fold steps, only a look at the queue
			select {
			case p, open = <-s.queue:
				got = true
			default:
			}
		} else {
			select {
			case p, open = <-s.queue:
				got = true
			case <-tick.C:
				last = time.Time{} // fold now
			case <-flush.C:
				flushArmed = false
			case <-s.kick:
			}
		}
		if !open {
			return
		}
		if got {
			batch = s.gather(append(batch[:0], p), wait)
			s.writeBatch(batch)
			clear(batch)
		}
		began, flushIn := s.housekeep(last)
		if began {
			last = time.Now()
		}
		if flushIn >= 0 && !flushArmed {
			flush.Reset(flushIn)
			flushArmed = true
		}
	}
}

// housekeep writes the answered steady-state heartbeats when their time
// has come, runs the next step of a fold in progress, or begins a fold
// when one is due (checkpointEvery after the last began, or the log has
// checkpointRows rows). It returns whether it began a fold, and how long
// until the answered steady-state heartbeats left are due (negative: none
// are waiting).
func (s *Store) housekeep(lastFold time.Time) (began bool, flushIn time.Duration) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	flush := len(s.steadyLog) > 0 && time.Since(s.steadySince) >= s.opts.LogFlush
	foldDue := time.Since(lastFold) >= checkpointEvery || s.st.logRows >= checkpointRows
	if flush || s.fold.active || foldDue {
		ctx, cancel := context.WithTimeout(context.Background(), defaultWriteTimeout)
		defer cancel()
		if flush {
			if err := s.flushSteady(ctx); err != nil {
				s.log.Warn("sqlite: writing the heartbeat log failed; retrying", "error", err)
			}
		}
		switch {
		case s.fold.active:
			if err := s.foldStep(ctx); err != nil {
				s.log.Warn("sqlite: heartbeat log checkpoint failed", "error", err)
			}
		case foldDue && (len(s.st.dirty) > 0 || s.st.logRows > 0):
			s.beginFold()
			began = true
		}
	}
	if len(s.steadyLog) == 0 {
		return began, -1
	}
	return began, max(s.opts.LogFlush-time.Since(s.steadySince), 0)
}

// gather adds to batch what s.queue holds, up to BatchMax, waiting up to
// BatchWait (on the writer's timer) for more when it falls short.
func (s *Store) gather(batch []*pending, wait *time.Timer) []*pending {
	var timeout <-chan time.Time
	defer wait.Stop()
	for len(batch) < s.opts.BatchMax {
		select {
		case p, ok := <-s.queue:
			if !ok {
				return batch
			}
			batch = append(batch, p)
			continue
		default:
		}
		if s.opts.BatchWait <= 0 {
			return batch
		}
		if timeout == nil {
			wait.Reset(s.opts.BatchWait)
			timeout = wait.C
		}
		select {
		case p, ok := <-s.queue:
			if !ok {
				return batch
			}
			batch = append(batch, p)
		case <-timeout:
			return batch
		}
	}
	return batch
}

// folding reports whether a fold is in progress.
func (s *Store) folding() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.fold.active
}

// batchContext is the context a batch's transaction runs under
// (handoff.BatchContext): it ends at the latest deadline of its callers,
// or once every one of them has given up; one caller's end does not
// abort the others' writes.
func batchContext(batch []*pending) (context.Context, context.CancelFunc) {
	callers := make([]context.Context, len(batch))
	for i, p := range batch {
		callers[i] = p.ctx
	}
	return handoff.BatchContext(context.Background(), callers, defaultWriteTimeout)
}
