package handoff

import (
	"sync"
	"testing"
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
