package handoff

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
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
