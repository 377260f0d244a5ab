package ratelimit

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTake is one Take on a hot key (a proxy's token id).
func BenchmarkTake(b *testing.B) {
	l := newTest(b, "heartbeat", Rate{6, time.Minute})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l.Take(ctx, "tok_0123456789abcdef")
	}
}

// BenchmarkTakeLongKey is one Take on a key longer than MaxKeyLen (hashed).
func BenchmarkTakeLongKey(b *testing.B) {
	l := newTest(b, "heartbeat", Rate{6, time.Minute})
	ctx := context.Background()
	key := string(make([]byte, 200))
	b.ReportAllocs()
	for b.Loop() {
		l.Take(ctx, key)
	}
}

// BenchmarkPeek is one Peek on an exhausted key.
func BenchmarkPeek(b *testing.B) {
	l := newTest(b, "auth-fail", Rate{1, time.Minute})
	ctx := context.Background()
	l.Take(ctx, "203.0.113.7")
	b.ReportAllocs()
	for b.Loop() {
		l.Peek(ctx, "203.0.113.7")
	}
}

// BenchmarkSetHeaders is the header writing of one denied response.
func BenchmarkSetHeaders(b *testing.B) {
	l := newTest(b, "heartbeat", Rate{6, time.Minute})
	now := time.Now()
	r := Result{Allowed: false, Limit: 6, Reset: now.Add(42 * time.Second)}
	b.ReportAllocs()
	for b.Loop() {
		l.SetHeaders(http.Header{}, r, now)
	}
}

// BenchmarkTakeParallel is Take from all Ps over 100k keys (a fleet of
// proxies at the top of the minute): after the first pass every key exists,
// so this measures the shared read lock and the per-key lock.
func BenchmarkTakeParallel(b *testing.B) {
	const n = 100_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "tok_" + strconv.Itoa(i)
	}
	l := newTest(b, "heartbeat", Rate{6, time.Minute})
	ctx := context.Background()
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(7919) // each goroutine starts elsewhere in the fleet
		for pb.Next() {
			l.Take(ctx, keys[i%n])
			i++
		}
	})
}

// BenchmarkTakeRate is one TakeRate on a key that has its own rate (the
// per-token heartbeat budget on every heartbeat).
func BenchmarkTakeRate(b *testing.B) {
	l := newTest(b, "heartbeat-token", PerMinute(1200))
	ctx := context.Background()
	r := PerMinute(20000)
	b.ReportAllocs()
	for b.Loop() {
		l.TakeRate(ctx, "tok_0123456789abcdef", r)
	}
}
