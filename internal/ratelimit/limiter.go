package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sethvargo/go-limiter"
	"github.com/sethvargo/go-limiter/memorystore"
)

// MaxKeyLen is the longest key stored as given; longer keys are replaced by
// "sha256:" and the hex SHA-256 digest of the key (71 bytes).
const MaxKeyLen = 128

// MaxNameLen is the longest limit name New accepts.
const MaxNameLen = 64

// minSweepInterval bounds how often idle keys are swept. A sweep holds the
// store's lock for a full pass over its keys, so rates with very short
// intervals are swept less often than once per interval.
const minSweepInterval = 100 * time.Millisecond

// ErrClosed is returned (wrapped) by Take and Peek after Close.
var ErrClosed = limiter.ErrStopped

// Limiter is one named limit (for example "heartbeat") applied independently
// to many keys, kept in memory. A key is an opaque id chosen by the caller (a
// token id, a principal id, a resolved client IP), never a raw token; keys
// longer than MaxKeyLen bytes are hashed. Idle keys are swept so that memory
// stays bounded under a flood of distinct keys. A Limiter is safe for
// concurrent use; Close releases it.
type Limiter struct {
	name   string
	rate   Rate
	store  limiter.Store
	policy string // the RateLimit-Policy member, e.g. `"heartbeat";q=6;w=60`
	// policyField is the RateLimit-Policy field holding only policy,
	// shared by every response (net/http never modifies a value slice).
	policyField []string
	prefix      string // `"heartbeat";`, the start of every member this limiter writes
	windowS     int64  // the interval in whole seconds, rounded up, at least 1
	closed      atomic.Bool
	stop        chan struct{}
	swept       chan struct{}
	mu          sync.RWMutex
	drained     map[string]int64 // stored key → end (Unix ns) of the window its last token was taken in
	// lastDrainedEnd is the latest end in drained (Unix ns), kept as keys
	// are added: while it lies ahead, some key is used up.
	lastDrainedEnd atomic.Int64
	setMu          sync.Mutex // TakeRate's starting of a key's bucket
	closeErr       error
	closeMu        sync.Mutex

	// remote holds the buckets in Redis when the limiter is shared
	// (Share); store is then the fallback while Redis is unreachable.
	remote *RedisStore
	shared *Shared
}

// Share makes l keep its buckets in Redis through sh, shared with every
// hub whose limiter of the same name does, falling back to its own
// buckets while Redis is unreachable. Call it before l is used.
func (l *Limiter) Share(sh *Shared) {
	l.shared = sh
	l.remote = NewRedisStore(sh.client, l.name, l.rate)
}

// New returns a Limiter named name that allows r.Tokens events per r.Interval
// for each key. The name appears in the RateLimit header fields and in errors;
// it is 1 to MaxNameLen characters from [A-Za-z0-9._-].
//
// The rate must have at least one token, an interval between MinInterval and
// MaxInterval, and tokens² ≤ interval in nanoseconds (for example at most
// 244948 per minute): go-limiter v0.7.1 refills a window with interval/tokens
// tokens, so a finer rate would silently shrink after its first window.
//
// Idle keys are removed by a sweep that runs once per interval (at most every
// 100ms) and removes keys whose last window has ended. Removing such a key
// loses nothing, since its next Take would find a full bucket anyway, and every
// key is gone within about two intervals of its last Take.
func New(name string, r Rate) (*Limiter, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("ratelimit %s: rate %s: %w", name, r, err)
	}
	sweep := max(r.Interval, minSweepInterval)
	store, err := memorystore.New(&memorystore.Config{
		Tokens:        r.Tokens,
		Interval:      r.Interval,
		SweepInterval: sweep,
		SweepMinTTL:   r.Interval,
	})
	if err != nil {
		return nil, fmt.Errorf("ratelimit %s: %w", name, err)
	}
	windowS := int64(ceilSeconds(r.Interval))
	l := &Limiter{
		name:    name,
		rate:    r,
		store:   store,
		policy:  fmt.Sprintf("%q;q=%d;w=%d", name, r.Tokens, windowS),
		prefix:  fmt.Sprintf("%q;", name),
		windowS: windowS,
		stop:    make(chan struct{}),
		swept:   make(chan struct{}),
		drained: make(map[string]int64),
	}
	// The ticker starts before New returns, so that no key can be older than
	// the sweeper's clock (the tests rely on it).
	l.policyField = []string{l.policy}
	go l.sweep(time.NewTicker(sweep))
	return l, nil
}

// validName reports whether name can be a limit name.
func validName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("ratelimit: name %q: want 1 to %d characters", name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("ratelimit: name %q: only letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}

// Name returns the limit's name, as given to New.
func (l *Limiter) Name() string { return l.name }

// Result is the outcome of a Take or a Peek for one key.
type Result struct {
	// Allowed reports whether the event is (Take) or would be (Peek) allowed.
	Allowed bool
	// Limit is the number of tokens per window, the rate's Tokens.
	Limit uint64
	// Remaining is the number of tokens left in the current window after the
	// Take; zero when the key is exhausted.
	Remaining uint64
	// Reset is when the current window ends and the key's tokens are
	// restored. See Peek for the cases in which it is an upper bound.
	Reset time.Time
	// Interval is the window of a key with its own rate (TakeRate); zero
	// for the limiter's own.
	Interval time.Duration
}

// storeKey returns the key under which key is stored: key itself when it is
// at most MaxKeyLen bytes long, and its SHA-256 digest otherwise.
func storeKey(key string) string {
	if len(key) <= MaxKeyLen {
		return key
	}
	const prefix = "sha256:"
	sum := sha256.Sum256([]byte(key))
	var buf [len(prefix) + 2*sha256.Size]byte
	copy(buf[:], prefix)
	hex.Encode(buf[len(prefix):], sum[:])
	return string(buf[:])
}

// Take consumes one token for key and reports whether the event is allowed.
// The key is an opaque identifier chosen by the caller (a token id, principal
// id or resolved client IP), never a raw token or other secret; keys longer
// than MaxKeyLen bytes are hashed with SHA-256. A denied Take consumes
// nothing. The error is non-nil only after Close (errors.Is ErrClosed).
func (l *Limiter) Take(ctx context.Context, key string) (Result, error) {
	return l.take(ctx, storeKey(key), nil)
}

// take is Take of stored key k, with k's own rate r when r is not nil.
func (l *Limiter) take(ctx context.Context, k string, r *Rate) (Result, error) {
	if l.closed.Load() {
		return Result{}, fmt.Errorf("ratelimit %s: take: %w", l.name, ErrClosed)
	}
	var limit, remaining, reset uint64
	var ok bool
	var err error
	remote := false
	if l.remote != nil && l.shared.try() {
		if r != nil {
			limit, remaining, reset, ok, err = l.remote.TakeRate(ctx, k, *r)
		} else {
			limit, remaining, reset, ok, err = l.remote.Take(ctx, k)
		}
		if err == nil {
			l.shared.succeeded()
			remote = true
		} else {
			l.shared.failed(ctx, err)
		}
	}
	if !remote {
		if r != nil {
			if err := l.setLocalRate(ctx, k, *r); err != nil {
				return Result{}, err
			}
		}
		limit, remaining, reset, ok, err = l.store.Take(ctx, k)
		if err != nil {
			return Result{}, fmt.Errorf("ratelimit %s: take: %w", l.name, err)
		}
	}
	// A shared bucket may be drained by another hub: a refusal tells this
	// one as much.
	if ok && remaining == 0 || remote && !ok {
		// The last token of this window is gone: remember when the window ends,
		// because go-limiter's Get cannot tell (see Peek).
		l.mu.Lock()
		if end, seen := l.drained[k]; l.drained != nil && (!seen || end < int64(reset)) {
			l.drained[k] = int64(reset) // never back to an earlier window
			if int64(reset) > l.lastDrainedEnd.Load() {
				l.lastDrainedEnd.Store(int64(reset)) // under l.mu: no lost update
			}
		}
		l.mu.Unlock()
	}
	return Result{Allowed: ok, Limit: limit, Remaining: remaining, Reset: time.Unix(0, int64(reset))}, nil
}

// TakeRate is Take with key's own rate r instead of the limiter's: a key
// whose bucket does not exist yet, or was made for another rate, gets a
// full bucket of r first. (A bucket made for another rate starts over: a
// change of the rate resets the key's window.) r must be valid (Rate's
// rules; PerMinute makes such rates).
func (l *Limiter) TakeRate(ctx context.Context, key string, r Rate) (Result, error) {
	if err := r.validate(); err != nil {
		return Result{}, fmt.Errorf("ratelimit %s: %w", l.name, err)
	}
	res, err := l.take(ctx, storeKey(key), &r)
	res.Interval = r.Interval
	return res, err
}

// setLocalRate gives stored key k of the in-memory store a full bucket of
// r unless it has one of r's size already.
func (l *Limiter) setLocalRate(ctx context.Context, k string, r Rate) error {
	limit, _, err := l.store.Get(ctx, k)
	if err != nil {
		return fmt.Errorf("ratelimit %s: take: %w", l.name, err)
	}
	if limit == r.Tokens {
		return nil
	}
	// Rare (a key's first take, a change of rate): serialized and looked
	// at again, so that two first takes do not both start the bucket over.
	l.setMu.Lock()
	defer l.setMu.Unlock()
	limit, _, err = l.store.Get(ctx, k)
	if err == nil && limit != r.Tokens {
		err = l.store.Set(ctx, k, r.Tokens, r.Interval)
	}
	if err != nil {
		return fmt.Errorf("ratelimit %s: set: %w", l.name, err)
	}
	return nil
}

// Peek reports the state of key without consuming a token (go-limiter's
// Store.Get), so that a caller can refuse a request before doing any work for
// it: for example, a source IP whose failed authentications are exhausted is
// refused before its credentials are even checked, and only failures Take.
// Keys are treated as in Take.
//
// Allowed and, for an exhausted key, Reset are exact. For a key that is not
// exhausted Remaining is the count after its last Take, which understates it
// when that Take's window has ended, and Reset is now+Interval, the latest the
// current window can end. An unknown key reports a full bucket.
func (l *Limiter) Peek(ctx context.Context, key string) (Result, error) {
	k := storeKey(key)
	if l.remote != nil && l.shared.try() {
		// Redis knows the window: the answer is exact.
		limit, remaining, reset, err := l.remote.peek(ctx, k)
		if err == nil {
			l.shared.succeeded()
			now := time.Now()
			switch {
			case limit == 0:
				return Result{Allowed: true, Limit: l.rate.Tokens, Remaining: l.rate.Tokens, Reset: now.Add(l.rate.Interval)}, nil
			case remaining > 0:
				return Result{Allowed: true, Limit: limit, Remaining: remaining, Reset: time.Unix(0, int64(reset))}, nil
			}
			return Result{Allowed: false, Limit: limit, Reset: time.Unix(0, int64(reset))}, nil
		}
		l.shared.failed(ctx, err)
	}
	limit, remaining, err := l.store.Get(ctx, k)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit %s: peek: %w", l.name, err)
	}
	now := time.Now()
	full := Result{Allowed: true, Limit: l.rate.Tokens, Remaining: l.rate.Tokens, Reset: now.Add(l.rate.Interval)}
	switch {
	case limit == 0: // never seen, or swept
		return full, nil
	case remaining > 0:
		return Result{Allowed: true, Limit: limit, Remaining: remaining, Reset: full.Reset}, nil
	}
	// go-limiter's Get returns the count as of the last Take: zero stays zero
	// after the window ends, until the next Take refills the bucket. The end of
	// the window in which the bucket drained tells the two cases apart.
	l.mu.RLock()
	end, ok := l.drained[k]
	l.mu.RUnlock()
	if ok && now.UnixNano() < end {
		return Result{Allowed: false, Limit: limit, Remaining: 0, Reset: time.Unix(0, end)}, nil
	}
	// The window has ended (its record was swept or is stale): the next Take
	// gets a full bucket. (A Take racing with this Peek may have drained the
	// bucket without having recorded the window yet; that Take's caller is
	// the one refused.)
	return full, nil
}

// Exhausted reports whether some key has used up its tokens within its
// current window. When it has not, Peek allows every key, so a caller may
// skip building the key it would peek at.
func (l *Limiter) Exhausted() bool {
	return time.Now().UnixNano() < l.lastDrainedEnd.Load()
}

// Close stops the sweeper and releases every key. After Close, Take and Peek
// fail with ErrClosed. Close is idempotent.
func (l *Limiter) Close(ctx context.Context) error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	if l.closed.Swap(true) {
		return l.closeErr
	}
	close(l.stop)
	<-l.swept
	l.closeErr = l.store.Close(ctx)
	l.mu.Lock()
	l.drained = nil
	l.mu.Unlock()
	if l.closeErr != nil {
		l.closeErr = fmt.Errorf("ratelimit %s: close: %w", l.name, l.closeErr)
	}
	return l.closeErr
}

// sweep drops the drained-window records whose window has ended, every
// interval, until Close. go-limiter sweeps its own buckets on the same cadence.
func (l *Limiter) sweep(t *time.Ticker) {
	defer close(l.swept)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		l.mu.Lock()
		// Copy the live records into a fresh map rather than deleting in place:
		// Go maps never shrink, and a flood of keys would otherwise pin the
		// memory of its largest size forever.
		n := 0
		for _, end := range l.drained {
			if end > now {
				n++
			}
		}
		if n < len(l.drained) {
			live := make(map[string]int64, n)
			for k, end := range l.drained {
				if end > now {
					live[k] = end
				}
			}
			l.drained = live
		}
		l.mu.Unlock()
	}
}
