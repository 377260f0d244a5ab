package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sethvargo/go-limiter"
)

// RedisStore is a go-limiter Store whose buckets live in Redis, so that
// every hub sharing the Redis server shares each key's budget. Each
// operation is one atomic Lua script (one round trip), timed by the Redis
// server's clock, so hubs whose clocks differ agree on the windows.
//
// A bucket is a fixed window: Limit tokens, refilled all at once when the
// window (Interval) that began with the first take after the last refill
// ends, as the in-memory store's windows do. Buckets expire with their
// window, so idle keys cost nothing.
type RedisStore struct {
	client   redis.UniversalClient
	prefix   string // "proxyhub:rl:<name>:"
	tokens   uint64
	interval time.Duration
}

var _ limiter.Store = (*RedisStore)(nil)

// NewRedisStore returns the Store of the limit named name, with rate r for
// keys that have none of their own, on client. The caller owns client.
func NewRedisStore(client redis.UniversalClient, name string, r Rate) *RedisStore {
	return &RedisStore{client: client, prefix: "proxyhub:rl:" + name + ":", tokens: r.Tokens, interval: r.Interval}
}

// takeScript takes a token from bucket KEYS[1]. ARGV: the tokens and the
// interval (ms) of a bucket to start, and whether an existing bucket with
// other tokens or interval starts over with these (1) or keeps its own
// (0). It returns {tokens, remaining, window end (Unix ms), ok}.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local want_l, want_i, force = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1'
local h = redis.call('HMGET', KEYS[1], 'l', 'i', 'r', 'e')
local l, i, r, e = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4])
if l == nil or (force and (l ~= want_l or i ~= want_i)) then
  l, i, r, e = want_l, want_i, want_l, now + want_i
elseif now >= e then
  r, e = l, now + i
end
local ok = 0
if r > 0 then
  r = r - 1
  ok = 1
end
redis.call('HSET', KEYS[1], 'l', l, 'i', i, 'r', r, 'e', e)
redis.call('PEXPIREAT', KEYS[1], e + 1000)
return {l, r, e, ok}
`)

// getScript reads bucket KEYS[1] without taking: {tokens, remaining,
// window end (Unix ms)}, a full bucket when its window has ended, {0, 0,
// 0} when there is none.
var getScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local h = redis.call('HMGET', KEYS[1], 'l', 'i', 'r', 'e')
local l, i, r, e = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]), tonumber(h[4])
if l == nil then return {0, 0, 0} end
if now >= e then return {l, l, now + i} end
return {l, r, e}
`)

// setScript starts bucket KEYS[1] over, full, with ARGV tokens and
// interval (ms).
var setScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local e = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'l', ARGV[1], 'i', ARGV[2], 'r', ARGV[1], 'e', e)
redis.call('PEXPIREAT', KEYS[1], e + 1000)
return 1
`)

// burstScript adds ARGV[1] tokens to bucket KEYS[1]'s current window.
var burstScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'r', ARGV[1]) end
return 1
`)

// Take implements limiter.Store with the store's rate.
func (s *RedisStore) Take(ctx context.Context, key string) (tokens, remaining, reset uint64, ok bool, err error) {
	return s.take(ctx, key, s.tokens, s.interval, false)
}

// TakeRate takes a token from key's bucket of rate r, starting it over
// when it was made with another rate.
func (s *RedisStore) TakeRate(ctx context.Context, key string, r Rate) (tokens, remaining, reset uint64, ok bool, err error) {
	return s.take(ctx, key, r.Tokens, r.Interval, true)
}

func (s *RedisStore) take(ctx context.Context, key string, tokens uint64, interval time.Duration, force bool) (uint64, uint64, uint64, bool, error) {
	f := "0"
	if force {
		f = "1"
	}
	v, err := takeScript.Run(ctx, s.client, []string{s.prefix + key}, tokens, interval.Milliseconds(), f).Int64Slice()
	if err != nil {
		return 0, 0, 0, false, fmt.Errorf("redis: %w", err)
	}
	if len(v) != 4 {
		return 0, 0, 0, false, errors.New("redis: take: unexpected answer")
	}
	return uint64(v[0]), uint64(v[1]), uint64(v[2]) * uint64(time.Millisecond), v[3] == 1, nil
}

// Get implements limiter.Store: the key's limit and its remaining tokens
// now (a full bucket once its window has ended; 0, 0 for no bucket).
func (s *RedisStore) Get(ctx context.Context, key string) (tokens, remaining uint64, err error) {
	tokens, remaining, _, err = s.peek(ctx, key)
	return tokens, remaining, err
}

// peek is Get with the end of the key's current window (Unix ns).
func (s *RedisStore) peek(ctx context.Context, key string) (tokens, remaining, reset uint64, err error) {
	v, err := getScript.Run(ctx, s.client, []string{s.prefix + key}).Int64Slice()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("redis: %w", err)
	}
	if len(v) != 3 {
		return 0, 0, 0, errors.New("redis: get: unexpected answer")
	}
	return uint64(v[0]), uint64(v[1]), uint64(v[2]) * uint64(time.Millisecond), nil
}

// Set implements limiter.Store.
func (s *RedisStore) Set(ctx context.Context, key string, tokens uint64, interval time.Duration) error {
	if err := setScript.Run(ctx, s.client, []string{s.prefix + key}, tokens, interval.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Burst implements limiter.Store.
func (s *RedisStore) Burst(ctx context.Context, key string, tokens uint64) error {
	if err := burstScript.Run(ctx, s.client, []string{s.prefix + key}, tokens).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Close implements limiter.Store; the client stays open (its owner closes
// it).
func (s *RedisStore) Close(context.Context) error { return nil }
