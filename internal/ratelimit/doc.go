// Package ratelimit enforces proxyhub's request limits in memory and writes
// the IETF RateLimit header fields that describe them.
//
// A Limiter is one named limit (for example "heartbeat", 6 per minute) applied
// independently to many keys. It is a thin layer over the in-memory store of
// github.com/sethvargo/go-limiter (memorystore) that adds:
//
//   - rate parsing and validation ("6/m", "600/1h", ParseRate);
//   - a bounded key length: keys longer than MaxKeyLen bytes are replaced by
//     their SHA-256 digest before they are stored;
//   - idle-key sweeping tuned to the rate, so that memory stays bounded under
//     a flood of distinct keys (see New);
//   - a Peek that is exact for exhausted keys, so that a caller can refuse a
//     request (for example a source IP whose failed authentications are used
//     up) before doing any expensive work for it;
//   - SetHeaders, which writes RateLimit-Policy, RateLimit and Retry-After.
//
// # Keys
//
// A key is an opaque identifier chosen by the caller: a token id, a principal
// id, a resolved client IP. It must never be a secret such as a raw bearer
// token: keys are kept in memory (hashed only beyond MaxKeyLen bytes) for up
// to two intervals after their last use. Keys are retained while they are
// tracked, so a key should not be a substring of a large buffer (use
// strings.Clone if in doubt).
//
// # Semantics
//
// go-limiter's memory store counts in fixed windows: a key's first Take starts
// a window of Rate.Interval holding Rate.Tokens tokens, and the bucket is
// refilled completely when a Take arrives in a later window. Windows are
// aligned to each key's first Take, not to the wall clock, so cron's
// top-of-the-minute burst does not land on a shared window boundary. As with
// every fixed-window counter, a key can get up to 2×Tokens events in a span of
// one interval that straddles a window boundary.
//
// Limits are per process: several hubs behind a load balancer each enforce
// their own copy of every limit.
package ratelimit
