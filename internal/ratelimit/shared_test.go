package ratelimit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxyhub/proxyhub/internal/redistest"
	"github.com/proxyhub/proxyhub/internal/relaytest"
)

// testClient is a client of addr with the hub's short timeouts, closed
// when t ends.
func testClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// uniqueName is a limit name no other test (or run) uses, so tests share
// the server safely.
func uniqueName(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "test-" + hex.EncodeToString(b)
}

// hubLimiter is one hub's limiter named name, sharing through its own
// client of addr.
func hubLimiter(t *testing.T, addr, name string, r Rate) (*Limiter, *Shared) {
	t.Helper()
	l, err := New(name, r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	sh := NewShared(testClient(t, addr), nil, nil)
	l.Share(sh)
	return l, sh
}

func TestShared_HubsShareOneBudgetPerKey(t *testing.T) {
	t.Parallel()
	addr := redistest.Addr(t)
	name := uniqueName(t)
	r := Rate{Tokens: 10, Interval: time.Minute}
	hubs := make([]*Limiter, 3)
	for i := range hubs {
		hubs[i], _ = hubLimiter(t, addr, name, r)
	}
	ctx := context.Background()
	allowed := 0
	for i := range 30 {
		res, err := hubs[i%3].Take(ctx, "tok_1")
		if err != nil {
			t.Fatal(err)
		}
		if res.Allowed {
			allowed++
		}
		if res.Limit != 10 {
			t.Fatalf("limit %d", res.Limit)
		}
	}
	if allowed != 10 {
		t.Fatalf("three hubs allowed %d takes of one key, want the one budget of 10", allowed)
	}
	// Another key has its own budget.
	if res, _ := hubs[0].Take(ctx, "tok_2"); !res.Allowed || res.Remaining != 9 {
		t.Fatalf("another key: %+v", res)
	}
	// A hub that never took from tok_1 sees it exhausted, with the shared
	// window's end.
	res, err := hubs[2].Peek(ctx, "tok_1")
	if err != nil || res.Allowed || !res.Reset.After(time.Now()) || res.Reset.After(time.Now().Add(time.Minute+time.Second)) {
		t.Fatalf("peek from another hub: %+v %v", res, err)
	}
}

func TestShared_WindowRefillsAndKeysOwnRates(t *testing.T) {
	t.Parallel()
	addr := redistest.Addr(t)
	name := uniqueName(t)
	a, _ := hubLimiter(t, addr, name, Rate{Tokens: 2, Interval: 300 * time.Millisecond})
	b, _ := hubLimiter(t, addr, name, Rate{Tokens: 2, Interval: 300 * time.Millisecond})
	ctx := context.Background()
	for i, want := range []bool{true, true, false} {
		if res, _ := []*Limiter{a, b, a}[i].Take(ctx, "k"); res.Allowed != want {
			t.Fatalf("take %d: %+v, want allowed=%v", i, res, want)
		}
	}
	time.Sleep(350 * time.Millisecond)
	if res, _ := b.Take(ctx, "k"); !res.Allowed || res.Remaining != 1 {
		t.Fatalf("after the window: %+v", res)
	}
	// TakeRate: the key's own rate, shared, and a change of rate starts over.
	five := Rate{Tokens: 5, Interval: time.Minute}
	n := 0
	for i := range 8 {
		if res, _ := []*Limiter{a, b}[i%2].TakeRate(ctx, "tok", five); res.Allowed {
			n++
		}
	}
	if n != 5 {
		t.Fatalf("TakeRate allowed %d across two hubs, want 5", n)
	}
	if res, _ := a.TakeRate(ctx, "tok", Rate{Tokens: 7, Interval: time.Minute}); !res.Allowed || res.Limit != 7 || res.Remaining != 6 {
		t.Fatalf("after a change of rate: %+v", res)
	}
}

func TestShared_UnreachableRedisFallsBackToLocalLimitsAndReturns(t *testing.T) {
	t.Parallel()
	addr := redistest.Addr(t)
	fw := relaytest.New(t, addr) // the connection path to Redis, which the test cuts
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedBuffer{&logMu, &logs}, nil))
	var changes []bool
	var chMu sync.Mutex
	l, err := New(uniqueName(t), Rate{Tokens: 3, Interval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	sh := NewShared(testClient(t, fw.Addr()), log, func(up bool) { chMu.Lock(); changes = append(changes, up); chMu.Unlock() })
	l.Share(sh)
	ctx := context.Background()
	if res, err := l.Take(ctx, "k"); err != nil || !res.Allowed || res.Remaining != 2 {
		t.Fatalf("through Redis: %+v %v", res, err)
	}

	fw.Cut() // the path to Redis is gone
	// Limits still hold, per hub: a fresh local bucket of 3.
	allowed := 0
	for range 5 {
		res, err := l.Take(ctx, "k")
		if err != nil {
			t.Fatalf("a take while Redis is away failed: %v", err)
		}
		if res.Allowed {
			allowed++
		}
	}
	if allowed != 3 {
		t.Fatalf("while Redis is away %d of 5 takes allowed, want the local budget of 3", allowed)
	}
	if up, why := sh.Up(); up || why == "" {
		t.Fatalf("Up() = %v, %q while Redis is away", up, why)
	}

	fw.Restore() // the path returns, on the same address
	deadline := time.Now().Add(5 * time.Second)
	for {
		res, err := l.Take(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if up, _ := sh.Up(); up {
			// Back on the shared bucket, which had 2 left before the cut.
			if !res.Allowed || res.Remaining != 1 {
				t.Fatalf("back on Redis: %+v, want the shared bucket's next token", res)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("limits did not go back to Redis after it returned")
		}
		time.Sleep(50 * time.Millisecond)
	}
	chMu.Lock()
	defer chMu.Unlock()
	if len(changes) != 3 || !changes[0] || changes[1] || !changes[2] {
		t.Fatalf("changes reported %v, want up, down, up", changes)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if n := strings.Count(logs.String(), "Redis is unreachable"); n != 1 {
		t.Fatalf("logged the outage %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "Redis answers again") {
		t.Fatalf("the return was not logged:\n%s", logs.String())
	}
}

type lockedBuffer struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
