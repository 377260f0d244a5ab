package handoff

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

func TestClaim_OneSideWins(t *testing.T) {
	var c Claim
	if !c.Take() || !c.Take() {
		t.Fatal("a queued write could not be taken, or taken again")
	}
	if c.Abandon() {
		t.Fatal("a taken write was abandoned")
	}
	c.Reset()
	if !c.Abandon() {
		t.Fatal("a queued write could not be abandoned")
	}
	if c.Take() {
		t.Fatal("an abandoned write was taken")
	}
}

// TestClaim_RaceHasOneWinner: caller and writer racing for the same write
// never both win, nor both lose.
func TestClaim_RaceHasOneWinner(t *testing.T) {
	for range 1000 {
		var c Claim
		var took, gaveUp bool
		var wg sync.WaitGroup
		wg.Go(func() { took = c.Take() })
		wg.Go(func() { gaveUp = c.Abandon() })
		wg.Wait()
		if took == gaveUp {
			t.Fatalf("taken %v, abandoned %v", took, gaveUp)
		}
	}
}

var errGone = errors.New("gone")

// TestBatchContext: the batch runs on while any caller waits, ends with
// the last caller's cause when all have given up, and ends at the latest
// caller deadline.
func TestBatchContext(t *testing.T) {
	a, cancelA := context.WithCancelCause(context.Background())
	b, cancelB := context.WithCancelCause(context.Background())
	ctx, cancel := BatchContext(context.Background(), []context.Context{a, b}, time.Hour)
	defer cancel()
	cancelA(errGone)
	time.Sleep(10 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatal("the batch ended while a caller still waited")
	}
	cancelB(errGone)
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
		t.Fatal("the batch ran on after every caller gave up")
	}
	if !errors.Is(context.Cause(ctx), errGone) {
		t.Fatalf("cause %v, want the callers'", context.Cause(ctx))
	}

	soon, cancelSoon := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancelSoon()
	later, cancelLater := context.WithTimeout(context.Background(), time.Hour)
	defer cancelLater()
	ctx, cancel = BatchContext(context.Background(), []context.Context{soon, later}, time.Minute)
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Fatalf("deadline %v, want the latest caller's", d)
	}
	ctx, cancel = BatchContext(context.Background(), []context.Context{context.Background()}, time.Minute)
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > time.Minute {
		t.Fatalf("deadline %v for a caller without one, want a minute from now", d)
	}
}

// TestContextError: a context that ended by a deadline, its own or its
// callers' (a batch's context is cancelled with the cause of its last
// caller), means the store was too slow: hub.ErrUnavailable; a plain
// cancellation is the caller's own.
func TestContextError(t *testing.T) {
	deadline, cancelDeadline := context.WithTimeout(context.Background(), 0)
	defer cancelDeadline()
	<-deadline.Done()
	byCallers, cancelByCallers := context.WithCancelCause(context.Background())
	cancelByCallers(context.DeadlineExceeded)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name        string
		ctx         context.Context
		unavailable bool
	}{
		{"own deadline", deadline, true},
		{"cancelled with a deadline as cause", byCallers, true},
		{"cancelled", cancelled, false},
	} {
		err := ContextError(c.ctx, "test")
		if errors.Is(err, hub.ErrUnavailable) != c.unavailable || !errors.Is(err, context.Cause(c.ctx)) {
			t.Errorf("%s: %v, want unavailable %v and the cause", c.name, err, c.unavailable)
		}
	}
}
