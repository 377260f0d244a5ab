package ratelimit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTest returns a Limiter closed at the end of the test.
func newTest(t testing.TB, name string, r Rate) *Limiter {
	t.Helper()
	l, err := New(name, r)
	if err != nil {
		t.Fatalf("New(%q, %v): %v", name, r, err)
	}
	t.Cleanup(func() {
		if err := l.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

func mustTake(t *testing.T, l *Limiter, key string) Result {
	t.Helper()
	r, err := l.Take(t.Context(), key)
	if err != nil {
		t.Fatalf("Take(%q): %v", key, err)
	}
	return r
}

func mustPeek(t *testing.T, l *Limiter, key string) Result {
	t.Helper()
	r, err := l.Peek(t.Context(), key)
	if err != nil {
		t.Fatalf("Peek(%q): %v", key, err)
	}
	return r
}

func TestNewRejects(t *testing.T) {
	ok := Rate{6, time.Minute}
	for _, tc := range []struct {
		name string
		rate Rate
		want string
	}{
		{"", ok, "1 to 64 characters"},
		{strings.Repeat("a", 65), ok, "1 to 64 characters"},
		{"heart beat", ok, "only letters"},
		{`a"b`, ok, "only letters"},
		{"héartbeat", ok, "only letters"},
		{"heartbeat", Rate{0, time.Minute}, "at least 1"},
		{"heartbeat", Rate{6, 0}, "shorter than"},
		{"heartbeat", Rate{6, 48 * time.Hour}, "longer than"},
		{"heartbeat", Rate{1 << 20, time.Second}, "too fine-grained"},
	} {
		t.Run(tc.name+" "+tc.rate.String(), func(t *testing.T) {
			l, err := New(tc.name, tc.rate)
			if err == nil {
				l.Close(t.Context())
				t.Fatalf("New(%q, %v) succeeded", tc.name, tc.rate)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%q, %v) = %v, want %q", tc.name, tc.rate, err, tc.want)
			}
		})
	}
	l := newTest(t, "Auth_fail.v2-ip", ok)
	if l.Name() != "Auth_fail.v2-ip" || l.rate != ok {
		t.Fatalf("Name, rate = %q, %v", l.Name(), l.rate)
	}
}

func TestTakeAllowsExactlyTokensThenDenies(t *testing.T) {
	for _, tokens := range []uint64{1, 3, 6, 100} {
		t.Run(Rate{tokens, time.Minute}.String(), func(t *testing.T) {
			l := newTest(t, "heartbeat", Rate{tokens, time.Minute})
			start := time.Now()
			var reset time.Time
			for i := range tokens {
				r := mustTake(t, l, "token-1")
				if !r.Allowed || r.Limit != tokens || r.Remaining != tokens-1-i {
					t.Fatalf("take %d = %+v, want allowed, limit %d, remaining %d", i+1, r, tokens, tokens-1-i)
				}
				if i == 0 {
					reset = r.Reset
					if reset.Before(start) || reset.After(time.Now().Add(time.Minute)) {
						t.Fatalf("reset %v not within one interval of %v", reset, start)
					}
				} else if !r.Reset.Equal(reset) {
					t.Fatalf("take %d reset %v, want %v (same window)", i+1, r.Reset, reset)
				}
			}
			for i := range 3 {
				r := mustTake(t, l, "token-1")
				if r.Allowed || r.Limit != tokens || r.Remaining != 0 || !r.Reset.Equal(reset) {
					t.Fatalf("take %d over the limit = %+v, want denied, remaining 0, reset %v", int(tokens)+i+1, r, reset)
				}
			}
		})
	}
}

// exhaust takes from key until a Take is denied and returns that result. With
// a short interval a stalled test can see a window end midway, so it does not
// count; TestTakeAllowsExactlyTokensThenDenies checks the count.
func exhaust(t *testing.T, l *Limiter, key string) Result {
	t.Helper()
	for range 1000 {
		if r := mustTake(t, l, key); !r.Allowed {
			return r
		}
	}
	t.Fatalf("1000 takes of %q all allowed", key)
	return Result{}
}

func TestTakeRecoversAfterInterval(t *testing.T) {
	const interval = 200 * time.Millisecond
	l := newTest(t, "heartbeat", Rate{3, interval})
	denied := exhaust(t, l, "k")
	if d := time.Until(denied.Reset); d > interval {
		t.Fatalf("reset in %v, want at most %v", d, interval)
	}
	time.Sleep(time.Until(denied.Reset) + 20*time.Millisecond)
	r := mustTake(t, l, "k")
	if !r.Allowed || r.Remaining != 2 || !r.Reset.After(denied.Reset) {
		t.Fatalf("take after the window = %+v, want allowed with 2 remaining and a later reset than %v", r, denied.Reset)
	}
}

func TestKeysAreIndependent(t *testing.T) {
	l := newTest(t, "heartbeat", Rate{2, time.Minute})
	for _, step := range []struct {
		key     string
		allowed bool
		left    uint64
	}{
		{"a", true, 1},
		{"a", true, 0},
		{"a", false, 0},
		{"b", true, 1}, // a's exhaustion does not touch b
		{"a", false, 0},
		{"b", true, 0},
		{"c", true, 1},
		{"b", false, 0},
		{"A", true, 1}, // keys are case-sensitive
	} {
		r := mustTake(t, l, step.key)
		if r.Allowed != step.allowed || r.Remaining != step.left {
			t.Fatalf("Take(%q) = %+v, want allowed=%v remaining=%d", step.key, r, step.allowed, step.left)
		}
	}
}

func TestPeekDoesNotConsume(t *testing.T) {
	l := newTest(t, "auth-fail", Rate{3, time.Minute})

	// An unknown key reports a full bucket, however often it is peeked.
	for range 10 {
		if r := mustPeek(t, l, "ip"); !r.Allowed || r.Limit != 3 || r.Remaining != 3 {
			t.Fatalf("Peek of a fresh key = %+v, want allowed with 3 of 3", r)
		}
	}
	for i, want := range []uint64{2, 1} {
		taken := mustTake(t, l, "ip")
		if taken.Remaining != want {
			t.Fatalf("take %d remaining %d, want %d: Peek consumed a token", i+1, taken.Remaining, want)
		}
		for range 5 {
			if r := mustPeek(t, l, "ip"); !r.Allowed || r.Remaining != want || r.Limit != 3 {
				t.Fatalf("Peek after take %d = %+v, want allowed with %d", i+1, r, want)
			}
		}
	}
	last := mustTake(t, l, "ip") // the last token: exhausted
	if !last.Allowed || last.Remaining != 0 {
		t.Fatalf("third take = %+v", last)
	}
	for range 5 {
		r := mustPeek(t, l, "ip")
		if r.Allowed || r.Remaining != 0 || !r.Reset.Equal(last.Reset) {
			t.Fatalf("Peek of an exhausted key = %+v, want denied until %v", r, last.Reset)
		}
	}
	if r := mustTake(t, l, "ip"); r.Allowed || !r.Reset.Equal(last.Reset) {
		t.Fatalf("Take after the Peeks = %+v, want denied until %v", r, last.Reset)
	}
	if r := mustPeek(t, l, "other"); !r.Allowed || r.Remaining != 3 {
		t.Fatalf("Peek of another key = %+v", r)
	}
}

// TestPeekAfterWindow checks that an exhausted key is open again once its
// window is over, before any Take refills it (go-limiter's Get alone would
// still report 0 remaining).
func TestPeekAfterWindow(t *testing.T) {
	l := newTest(t, "auth-fail", Rate{2, 200 * time.Millisecond})
	denied := exhaust(t, l, "ip")
	time.Sleep(time.Until(denied.Reset) + 20*time.Millisecond)
	if _, rem, _ := l.store.Get(t.Context(), "ip"); rem != 0 {
		t.Fatalf("go-limiter refilled without a Take (remaining %d); Peek's bookkeeping is unneeded", rem)
	}
	for range 3 {
		if r := mustPeek(t, l, "ip"); !r.Allowed || r.Remaining != 2 {
			t.Fatalf("Peek after the window = %+v, want allowed with 2", r)
		}
	}
	if r := mustTake(t, l, "ip"); !r.Allowed || r.Remaining != 1 {
		t.Fatalf("Take after the window = %+v, want allowed with 1", r)
	}
}

func TestLongKeysAreHashed(t *testing.T) {
	exact := strings.Repeat("k", MaxKeyLen)
	if got := storeKey(exact); got != exact {
		t.Fatalf("a %d-byte key was changed to %q", MaxKeyLen, got)
	}
	long1 := strings.Repeat("k", MaxKeyLen) + "1"
	long2 := strings.Repeat("k", MaxKeyLen) + "2"
	h1, h2 := storeKey(long1), storeKey(long2)
	for _, h := range []string{h1, h2} {
		if !strings.HasPrefix(h, "sha256:") || len(h) != len("sha256:")+64 {
			t.Fatalf("long key stored as %q, want sha256:<64 hex>", h)
		}
	}
	if h1 == h2 || storeKey(long1) != h1 {
		t.Fatalf("hashing is not a function of the key: %q %q", h1, h2)
	}
	huge := strings.Repeat("x", 1<<20)
	if h := storeKey(huge); len(h) != 71 {
		t.Fatalf("1 MiB key stored as %d bytes", len(h))
	}

	// Behaviour: long keys that differ only past byte 128 are still independent,
	// and one long key always maps to the same bucket.
	l := newTest(t, "heartbeat", Rate{1, time.Minute})
	if r := mustTake(t, l, long1); !r.Allowed {
		t.Fatalf("first take of long1 denied")
	}
	if r := mustTake(t, l, long1); r.Allowed {
		t.Fatalf("second take of long1 allowed")
	}
	if r := mustPeek(t, l, long1); r.Allowed {
		t.Fatalf("Peek of long1 allowed")
	}
	if r := mustTake(t, l, long2); !r.Allowed {
		t.Fatalf("long2 shares long1's bucket")
	}
	if r := mustTake(t, l, exact); !r.Allowed {
		t.Fatalf("the 128-byte prefix shares a long key's bucket")
	}
	if lim, _, _ := l.store.Get(t.Context(), long1); lim != 0 {
		t.Fatalf("the raw long key was stored")
	}
	if lim, _, _ := l.store.Get(t.Context(), h1); lim != 1 {
		t.Fatalf("hashed key %q not in the store", h1)
	}
}

func TestClose(t *testing.T) {
	l, err := New("heartbeat", Rate{1, time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	mustTake(t, l, "k")
	for range 2 { // idempotent
		if err := l.Close(t.Context()); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if _, err := l.Take(t.Context(), "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Take after Close: %v, want ErrClosed", err)
	}
	if _, err := l.Peek(t.Context(), "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Peek after Close: %v, want ErrClosed", err)
	}
}

// TestConcurrentTakes checks that exactly Tokens of many concurrent Takes on
// one key are allowed, while Peeks and other keys run alongside (-race).
func TestConcurrentTakes(t *testing.T) {
	const tokens, goroutines, each = 50, 16, 20
	l := newTest(t, "heartbeat", Rate{tokens, time.Minute})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				if r, err := l.Take(t.Context(), "shared"); err == nil && r.Allowed {
					allowed.Add(1)
				}
				l.Peek(t.Context(), "shared")
				l.Take(t.Context(), "own-"+string(rune('a'+g)))
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != tokens {
		t.Fatalf("%d of %d concurrent takes allowed, want exactly %d", got, goroutines*each, tokens)
	}
}

// Exhausted says whether any key has used up its tokens in its current
// window: false while every key has some left (so a caller may skip Peek),
// true once one is used up, false again when that window has ended.
func TestExhaustedWhileSomeKeyIsUsedUp(t *testing.T) {
	t.Parallel()
	l := newTest(t, "auth-failure", Rate{Tokens: 2, Interval: 200 * time.Millisecond})
	if l.Exhausted() {
		t.Fatal("exhausted before any take")
	}
	mustTake(t, l, "ip:192.0.2.1")
	mustTake(t, l, "ip:192.0.2.2")
	if l.Exhausted() {
		t.Fatal("exhausted while every key has a token left")
	}
	mustTake(t, l, "ip:192.0.2.1")
	if !l.Exhausted() {
		t.Fatal("not exhausted after a key used up its tokens")
	}
	if r := mustPeek(t, l, "ip:192.0.2.1"); r.Allowed {
		t.Fatal("Peek allows the used-up key")
	}
	time.Sleep(250 * time.Millisecond)
	if l.Exhausted() {
		t.Fatal("still exhausted after the window ended")
	}
}

// PerMinute keeps a minute's window while the in-memory store can hold it
// exactly, then counts per second.
func TestPerMinute(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    uint64
		want Rate
	}{
		{0, Rate{1, time.Minute}},
		{600, Rate{600, time.Minute}},
		{244948, Rate{244948, time.Minute}},
		{244949, Rate{4083, time.Second}},
		{1_200_000, Rate{20000, time.Second}},
	} {
		if got := PerMinute(tc.n); got != tc.want || got.validate() != nil {
			t.Errorf("PerMinute(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

// TakeRate gives a key its own rate; a change of the rate starts the key
// over at the new one.
func TestTakeRateUsesTheKeysOwnRate(t *testing.T) {
	t.Parallel()
	l := newTest(t, "heartbeat-token", Rate{Tokens: 100, Interval: time.Minute})
	three := Rate{Tokens: 3, Interval: time.Minute}
	for i := range 3 {
		if r, err := l.TakeRate(t.Context(), "tok_a", three); err != nil || !r.Allowed || r.Limit != 3 || r.Interval != time.Minute {
			t.Fatalf("take %d: %+v %v", i, r, err)
		}
	}
	if r, _ := l.TakeRate(t.Context(), "tok_a", three); r.Allowed {
		t.Fatal("the fourth take of three was allowed")
	}
	if r := mustTake(t, l, "tok_b"); !r.Allowed || r.Limit != 100 {
		t.Fatalf("another key on the limiter's rate: %+v", r)
	}
	if r, _ := l.TakeRate(t.Context(), "tok_a", Rate{Tokens: 5, Interval: time.Minute}); !r.Allowed || r.Remaining != 4 {
		t.Fatalf("after a change of rate: %+v", r)
	}
}

// Concurrent first takes of a key with its own rate share one bucket:
// exactly its tokens are allowed.
func TestTakeRateConcurrentFirstTakes(t *testing.T) {
	t.Parallel()
	for round := range 20 {
		l := newTest(t, "heartbeat-token", Rate{Tokens: 100, Interval: time.Minute})
		r := Rate{Tokens: 5, Interval: time.Minute}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 50 {
			wg.Go(func() {
				<-start
				if res, err := l.TakeRate(t.Context(), "tok_a", r); err == nil && res.Allowed {
					allowed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := allowed.Load(); n != 5 {
			t.Fatalf("round %d: %d of 50 concurrent first takes allowed, want 5", round, n)
		}
	}
}
