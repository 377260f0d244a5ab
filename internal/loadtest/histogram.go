package loadtest

import (
	"math"
	"sync/atomic"
	"time"
)

// Histogram records latencies in fixed log-linear buckets, so memory stays
// bounded (about 1.3 MB) however many requests a run makes, and percentiles
// are exact to the bucket width:
//
//	[0, 10 ms)   1 µs buckets   (10,000)
//	[10 ms, 1 s) 10 µs buckets  (99,000)
//	[1 s, 60 s)  1 ms buckets   (59,000)
//	≥ 60 s       one overflow bucket (its percentiles report the exact maximum)
//
// Record is safe for concurrent use (atomic adds; no lock).
type Histogram struct {
	counts []atomic.Uint64
	count  atomic.Uint64
	sum    atomic.Int64 // nanoseconds
	max    atomic.Int64 // nanoseconds
}

const (
	histFine    = 10 * time.Millisecond
	histMid     = time.Second
	histCoarse  = 60 * time.Second
	histFineW   = time.Microsecond
	histMidW    = 10 * time.Microsecond
	histCoarseW = time.Millisecond

	histFineN   = int(histFine / histFineW)
	histMidN    = int((histMid - histFine) / histMidW)
	histCoarseN = int((histCoarse - histMid) / histCoarseW)
	histBuckets = histFineN + histMidN + histCoarseN + 1 // + overflow
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]atomic.Uint64, histBuckets)}
}

// bucketOf returns the bucket index of d.
func bucketOf(d time.Duration) int {
	switch {
	case d < 0:
		return 0
	case d < histFine:
		return int(d / histFineW)
	case d < histMid:
		return histFineN + int((d-histFine)/histMidW)
	case d < histCoarse:
		return histFineN + histMidN + int((d-histMid)/histCoarseW)
	default:
		return histBuckets - 1
	}
}

// bucketUpper returns the exclusive upper bound of bucket i (the overflow
// bucket has none: MaxInt64).
func bucketUpper(i int) time.Duration {
	switch {
	case i < histFineN:
		return time.Duration(i+1) * histFineW
	case i < histFineN+histMidN:
		return histFine + time.Duration(i-histFineN+1)*histMidW
	case i < histBuckets-1:
		return histMid + time.Duration(i-histFineN-histMidN+1)*histCoarseW
	default:
		return math.MaxInt64
	}
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(d)].Add(1)
	h.count.Add(1)
	h.sum.Add(int64(d))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Max is the largest latency recorded (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean is the average latency (exact).
func (h *Histogram) Mean() time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / int64(n))
}

// Quantile returns the q-quantile (0 < q ≤ 1): the smallest bucket bound
// that at least ⌈q·count⌉ recorded latencies fall below, never above the
// exact maximum. It overstates the true value by less than one bucket width.
// Call it once recording has stopped.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			if u := bucketUpper(i); u < h.Max() {
				return u
			}
			return h.Max()
		}
	}
	return h.Max()
}
