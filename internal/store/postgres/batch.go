package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/handoff"
)

// The group commit. RecordHeartbeat puts a pending heartbeat on s.queue and
// waits for its outcome. One batcher goroutine gathers pending heartbeats
// into a batch until it holds Options.BatchMax of them or the first has
// waited Options.BatchWait, then hands the batch to one of Options.Writers
// writer goroutines; while every writer is busy the batch keeps growing up
// to BatchMax, so batches grow with the load. A writer sends the batch as
// one transaction (batchtx.go) and answers each heartbeat only after the
// commit. A heartbeat whose caller gave up before its batch is sent (checked
// when the writer takes the batch, and again once it holds a connection) is
// answered with the caller's error and not written. Once a writer has
// taken a heartbeat into a transaction, its caller waits for the outcome
// even if its context ends meanwhile (the transaction ends at the latest
// of its callers' deadlines, or once all of them have given up:
// batchContext): a caller is never told "not written" about a heartbeat
// that commits.

// pending is one heartbeat waiting for its batch.
type pending struct {
	ctx   context.Context // the caller's: ended before sending means "do not write"
	hb    hub.Heartbeat
	done  chan outcome // buffered (1): answering never blocks
	claim handoff.Claim
}

// outcome is what a writer answers a pending heartbeat.
type outcome struct {
	res hub.HeartbeatResult
	err error
}

// maxBatchAttempts bounds how often a batch transaction that lost a
// deadlock or serialization conflict is run again.
const maxBatchAttempts = 3

// start starts the batcher, the writers and (with a token cache) the
// token-revocation watch; Close stops them.
func (s *Store) start() {
	s.wg.Add(1 + s.opts.Writers)
	go s.batcher()
	for range s.opts.Writers {
		go s.writer()
	}
	if s.tokens != nil {
		s.wg.Go(s.watchTokenRevocations)
	}
}

// enqueue hands p to the batcher, unless the store is closed or ctx ends
// first.
func (s *Store) enqueue(ctx context.Context, p *pending) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed
	}
	select {
	case s.queue <- p:
		return nil
	case <-ctx.Done():
		return ctxError(ctx, "postgres: record heartbeat")
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
		s.write(batch)
	}
}

// write writes one batch and answers every heartbeat in it.
func (s *Store) write(batch []*pending) {
	const what = "postgres: record heartbeat"
	live := make([]*pending, 0, len(batch))
	for _, p := range batch {
		if p.ctx.Err() != nil {
			p.done <- outcome{err: ctxError(p.ctx, what)}
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := batchContext(s.life, live)
	defer cancel()
	outs, err := s.writeRetrying(ctx, live)
	if err != nil && len(live) > 1 && ctx.Err() == nil && (!unavailable(err) || lockTimedOut(err)) {
		// One heartbeat's statement failed, or waited too long for a lock
		// another session holds, and took the transaction with it; write
		// them one by one, so that only that one fails (503 when it is
		// the lock).
		s.log.Warn("postgres: heartbeat batch failed, writing its heartbeats one by one", "size", len(live), "error", err)
		s.writeEach(ctx, live)
		return
	}
	if err != nil {
		err = translate(err, what)
		if ctx.Err() != nil {
			err = ctxError(ctx, what)
		}
		s.log.Error("postgres: heartbeat batch failed", "size", len(live), "error", err)
	}
	for i, p := range live {
		if err != nil {
			p.done <- outcome{err: err}
		} else {
			p.done <- outs[i]
		}
	}
}

// eachConcurrency is how many heartbeats of a failed batch are written at
// once, each in its own transaction.
const eachConcurrency = 4

// writeEach writes heartbeats one by one, each in its own transaction, and
// answers each as soon as it is written: a heartbeat that waits for a lock
// held elsewhere delays no other. Heartbeats of different proxies are
// written concurrently, those of one proxy in order.
func (s *Store) writeEach(ctx context.Context, items []*pending) {
	const what = "postgres: record heartbeat"
	type key struct{ tenant, name string }
	var order []key
	groups := map[key][]*pending{}
	for _, p := range items {
		k := key{p.hb.TenantID, p.hb.Name}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p)
	}
	sem := make(chan struct{}, eachConcurrency)
	var wg sync.WaitGroup
	for _, k := range order {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			for _, p := range groups[k] {
				if p.ctx.Err() != nil {
					p.done <- outcome{err: ctxError(p.ctx, what)}
					continue
				}
				one, err := s.writeRetrying(ctx, []*pending{p})
				switch {
				case err != nil && ctx.Err() != nil:
					p.done <- outcome{err: ctxError(ctx, what)}
				case err != nil:
					p.done <- outcome{err: translate(err, what)}
				default:
					p.done <- one[0]
				}
			}
		})
	}
	wg.Wait()
}

// batchContext is the context a batch's transaction runs under
// (handoff.BatchContext): it ends at the latest deadline of its callers,
// or once every one of them has given up; one caller's end does not
// abort the others' writes.
func batchContext(life context.Context, batch []*pending) (context.Context, context.CancelFunc) {
	callers := make([]context.Context, len(batch))
	for i, p := range batch {
		callers[i] = p.ctx
	}
	return handoff.BatchContext(life, callers, defaultWriteTimeout)
}

// writeRetrying runs the batch's transaction, again when it lost a
// deadlock or a serialization conflict, or lost its connection before
// COMMIT was sent (a session ended by the server, a failover): in each
// case nothing of it was committed.
func (s *Store) writeRetrying(ctx context.Context, batch []*pending) ([]outcome, error) {
	for attempt := 1; ; attempt++ {
		outs, sentCommit, err := s.writeBatch(ctx, batch)
		if err == nil || attempt == maxBatchAttempts || ctx.Err() != nil {
			return outs, err
		}
		if !retryable(err) && (sentCommit || !connectionLost(err)) {
			return outs, err
		}
		s.log.Debug("postgres: heartbeat batch failed before commit, retrying", "attempt", attempt, "error", err)
	}
}
