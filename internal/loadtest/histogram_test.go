package loadtest

import (
	"sync"
	"testing"
	"time"
)

func TestHistogram_PercentilesOfAUniformSpreadAreExactToTheBucketWidth(t *testing.T) {
	h := NewHistogram()
	// 1 ms … 100 ms in 1 µs steps: 99,001 samples in the 1 µs and 10 µs ranges.
	for d := time.Millisecond; d <= 100*time.Millisecond; d += time.Microsecond {
		h.Record(d)
	}
	n := h.count.Load()
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.50, 50500 * time.Microsecond}, {0.90, 90100 * time.Microsecond}, {0.99, 99010 * time.Microsecond}, {1, 100 * time.Millisecond}} {
		got := h.Quantile(tc.q)
		width := histMidW
		if tc.want < histFine {
			width = histFineW
		}
		if got < tc.want || got > tc.want+width {
			t.Errorf("p%v = %v, want %v (+ at most %v) of %d samples", tc.q*100, got, tc.want, width, n)
		}
	}
	if h.Max() != 100*time.Millisecond {
		t.Errorf("max = %v, want exactly 100ms", h.Max())
	}
	if m := h.Mean(); m < 50499*time.Microsecond || m > 50501*time.Microsecond {
		t.Errorf("mean = %v, want 50.5ms", m)
	}
}

func TestHistogram_SmallLatenciesHaveMicrosecondResolution(t *testing.T) {
	h := NewHistogram()
	for range 98 {
		h.Record(150 * time.Microsecond)
	}
	h.Record(2 * time.Millisecond)
	h.Record(3 * time.Millisecond)
	if got := h.Quantile(0.5); got < 150*time.Microsecond || got > 151*time.Microsecond {
		t.Errorf("p50 = %v, want 150µs (+ at most 1µs)", got)
	}
	if got := h.Quantile(0.99); got < 2*time.Millisecond || got > 2*time.Millisecond+time.Microsecond {
		t.Errorf("p99 = %v, want 2ms", got)
	}
	if got := h.Quantile(1); got != 3*time.Millisecond {
		t.Errorf("p100 = %v, want the exact max 3ms", got)
	}
}

func TestHistogram_OutliersAndEmpty(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.99) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("an empty histogram reports non-zero figures")
	}
	h.Record(-time.Second) // a clock step: counted as 0
	h.Record(2500 * time.Millisecond)
	h.Record(90 * time.Second) // overflow bucket
	if got := h.Quantile(0.5); got < 2500*time.Millisecond || got > 2501*time.Millisecond {
		t.Errorf("p50 = %v, want 2.5s at 1ms resolution", got)
	}
	if got := h.Quantile(0.99); got != 90*time.Second {
		t.Errorf("p99 = %v, want the exact max 90s from the overflow bucket", got)
	}
}

func TestHistogram_BucketsCoverEveryDurationInOrder(t *testing.T) {
	prev := -1
	for _, d := range []time.Duration{0, 1, time.Microsecond, 9999 * time.Microsecond, histFine - 1, histFine, histFine + 9*time.Microsecond,
		histFine + 10*time.Microsecond, histMid - 1, histMid, histMid + 999*time.Microsecond, histCoarse - 1, histCoarse, time.Hour} {
		b := bucketOf(d)
		if b < prev || b >= histBuckets {
			t.Fatalf("bucketOf(%v) = %d after %d", d, b, prev)
		}
		if b < histBuckets-1 && bucketUpper(b) <= d {
			t.Fatalf("bucket %d of %v ends at %v, not after it", b, d, bucketUpper(b))
		}
		if b > 0 && bucketUpper(b-1) > d {
			t.Fatalf("%v also fits bucket %d", d, b-1)
		}
		prev = b
	}
	if histBuckets*8 > 2<<20 {
		t.Errorf("%d buckets: more than 2 MB", histBuckets)
	}
}

func TestHistogram_ConcurrentRecording(t *testing.T) {
	h := NewHistogram()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10000 {
				h.Record(time.Duration(w*10000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.count.Load() != 80000 || h.Max() != 79999*time.Microsecond {
		t.Fatalf("count %d max %v", h.count.Load(), h.Max())
	}
}
