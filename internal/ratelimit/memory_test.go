package ratelimit

import (
	"runtime"
	"strconv"
	"testing"
	"time"
)

// heapAlloc returns the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestMemoryBoundedUnderKeyFlood floods a Limiter with 200k distinct keys and
// checks that the sweep gives the memory back: after the sweep the heap falls
// by most of what the flood added. A second flood of 200k other keys then must
// not grow the heap beyond the first peak, so a sustained flood costs the keys
// of a couple of sweep periods, not every key ever seen.
//
// Timing: a sweep removes a key only once its window has ended, one interval
// after its first Take; the sweeps tick once per interval from New. So the
// keys of a flood that starts right after a tick are still there one to two
// intervals later (1.2 s to 2.4 s), while a flood and its GC take about 1 s
// under -race on 2 CPUs. The test checks that at most 2% of the keys are gone
// at the peak instead of trusting the clock (and skips, saying so, on a
// machine too busy for that), and polls for the sweep instead of sleeping a
// fixed time. The second flood starts right after a sweep, so it has the same
// budget.
func TestMemoryBoundedUnderKeyFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("floods 2×200k keys")
	}
	const (
		keys     = 200_000
		interval = 1200 * time.Millisecond
	)
	ctx := t.Context()
	key := func(round, i int) string { return "r" + strconv.Itoa(round) + "-ip-" + strconv.Itoa(i) }
	mib := func(b int64) string { return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MiB" }

	base := heapAlloc()
	// One token per window: every key is drained by its first Take, so the
	// drained-window records of Peek are flooded too (the worst case).
	l := newTest(t, "flood", Rate{1, interval})

	tracked := func(k string) bool {
		lim, _, err := l.store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return lim != 0
	}
	drained := func() int {
		l.mu.RLock()
		defer l.mu.RUnlock()
		return len(l.drained)
	}
	// flood takes every key of round once and measures the heap at the peak.
	// complete reports whether (almost) no key was swept before the measurement.
	flood := func(round int) (peak int64, took time.Duration, complete bool) {
		start := time.Now()
		for i := range keys {
			if r, err := l.Take(ctx, key(round, i)); err != nil || !r.Allowed {
				t.Fatalf("round %d: Take %d = %+v, %v", round, i, r, err)
			}
		}
		peak = int64(heapAlloc())
		took = time.Since(start)
		// A sweep running late may already have taken the first few keys, whose
		// windows have ended; that is not the point here, but losing more than
		// 2% of the keys means the flood outlasted the sweep period.
		return peak, took, drained() >= keys*98/100 && tracked(key(round, keys*2/100))
	}
	// awaitSweep polls until every key of round is gone from the store and
	// from the drained records.
	awaitSweep := func(round int) (after int64, waited time.Duration) {
		start := time.Now()
		for tracked(key(round, 0)) || tracked(key(round, keys/2)) || tracked(key(round, keys-1)) || drained() != 0 {
			if time.Since(start) > 3*interval {
				t.Fatalf("round %d: keys still tracked %v after the flood (drained records: %d)", round, 3*interval, drained())
			}
			time.Sleep(interval / 20)
		}
		waited = time.Since(start)
		return int64(heapAlloc()), waited
	}

	peak1, took1, complete := flood(1)
	if !complete {
		t.Skipf("keys were swept before the peak was measured: the flood and its GC took %v, the sweep period is %v; the machine is too busy for this measurement", took1, interval)
	}
	after1, waited1 := awaitSweep(1)
	grow := peak1 - int64(base)
	t.Logf("base %s; flood 1 of %d keys (%v): peak %s, +%s (%d B/key); swept %v later: %s, %.0f%% of the growth returned",
		mib(int64(base)), keys, took1.Round(time.Millisecond), mib(peak1), mib(grow), grow/keys,
		waited1.Round(time.Millisecond), mib(after1), 100*float64(peak1-after1)/float64(grow))

	if grow < keys*64 {
		t.Fatalf("the flood grew the heap by only %s; the measurement is meaningless", mib(grow))
	}
	// The buckets, the key strings and the drained records are freed; only
	// go-limiter's map table stays (Go maps never shrink).
	if dropped := peak1 - after1; dropped < grow*6/10 {
		t.Errorf("after the sweep the heap fell by %s of the %s the flood added; want at least 60%%", mib(dropped), mib(grow))
	}

	// Bounded: a second flood of other keys reuses what the first one left.
	peak2, took2, complete := flood(2)
	t.Logf("flood 2 of %d other keys (%v): peak %s, +%s over base (first flood: +%s)",
		keys, took2.Round(time.Millisecond), mib(peak2), mib(peak2-int64(base)), mib(grow))
	if !complete {
		t.Skipf("keys were swept before the second peak was measured: the flood and its GC took %v, the sweep period is %v; the machine is too busy for this measurement", took2, interval)
	}
	if grow2 := peak2 - int64(base); grow2 > grow*12/10 {
		t.Errorf("the second flood grew the heap by %s, the first by %s: memory is not bounded", mib(grow2), mib(grow))
	}
}
