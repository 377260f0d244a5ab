package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header field names written by SetHeaders.
const (
	// HeaderPolicy is the RateLimit-Policy field: the limit's quota and window.
	HeaderPolicy = "RateLimit-Policy"
	// HeaderRateLimit is the RateLimit field: the key's remaining quota and
	// the seconds until it is restored.
	HeaderRateLimit = "RateLimit"
	// HeaderRetryAfter is the Retry-After field (RFC 9110, section 10.2.3).
	HeaderRetryAfter = "Retry-After"
)

// SetHeaders writes the IETF RateLimit header fields in the form of the
// recent revisions of draft-ietf-httpapi-ratelimit-headers (-10, -11; policy
// names as Structured Field strings) for result r as seen at now. For a limit named "heartbeat" of 6 per minute, with 5 tokens
// left and the window ending in 41.2 seconds:
//
//	RateLimit-Policy: "heartbeat";q=6;w=60
//	RateLimit: "heartbeat";r=5;t=42
//
// q is the rate's Tokens and w its Interval in seconds; r is r.Remaining (0
// when denied) and t the seconds from now until r.Reset. Both are rounded up,
// so a client that waits t seconds is never early; w is at least 1 and t lies
// between 0 and w. When r is not allowed it also writes
//
//	Retry-After: 42
//
// the same delay, but at least 1 second.
//
// Both RateLimit fields are lists: members written by other limiters are kept
// and a member this limiter wrote earlier is replaced, so one response can
// report several limits. A Retry-After already present with a longer delay is
// kept.
func (l *Limiter) SetHeaders(h http.Header, r Result, now time.Time) {
	t := min(int64(ceilSeconds(r.Reset.Sub(now))), l.windowS)
	remaining := r.Remaining
	if !r.Allowed {
		remaining = 0
	}
	switch {
	case r.Interval != 0 && (r.Limit != l.rate.Tokens || r.Interval != l.rate.Interval): // a key with its own rate (TakeRate)
		window := int64(max(ceilSeconds(r.Interval), 1))
		l.setMember(h, canonicalPolicy, l.prefix+"q="+strconv.FormatUint(r.Limit, 10)+";w="+strconv.FormatInt(window, 10))
		t = min(t, window)
	case len(h[canonicalPolicy]) == 0:
		h[canonicalPolicy] = l.policyField // the common case: no other limiter wrote one
	default:
		l.setMember(h, canonicalPolicy, l.policy)
	}
	var buf [96]byte
	b := append(buf[:0], l.prefix...)
	b = strconv.AppendUint(append(b, "r="...), remaining, 10)
	b = strconv.AppendInt(append(b, ";t="...), t, 10)
	l.setMember(h, canonicalRateLimit, string(b))
	if r.Allowed {
		return
	}
	retry := max(t, 1)
	if old, err := strconv.ParseInt(h.Get(HeaderRetryAfter), 10, 64); err == nil && old > retry {
		return
	}
	h.Set(HeaderRetryAfter, strconv.FormatInt(retry, 10))
}

// The header field names in the canonical form http.Header keys take.
var (
	canonicalPolicy    = http.CanonicalHeaderKey(HeaderPolicy)
	canonicalRateLimit = http.CanonicalHeaderKey(HeaderRateLimit)
)

// setMember writes member as this limiter's member of the list field
// (given in canonical form), replacing any member it wrote before and
// keeping the others.
func (l *Limiter) setMember(h http.Header, field, member string) {
	old := h[field]
	if len(old) == 0 {
		h[field] = []string{member}
		return
	}
	kept := make([]string, 0, len(old)+1)
	for _, v := range old {
		if !strings.HasPrefix(v, l.prefix) {
			kept = append(kept, v)
		}
	}
	h[field] = append(kept, member)
}

// ceilSeconds returns d in whole seconds, rounded up; 0 when d ≤ 0.
func ceilSeconds(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	s := uint64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}
