package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Bounds on a Rate's interval accepted by ParseRate and New.
const (
	// MinInterval is the shortest interval a Rate may have.
	MinInterval = time.Millisecond
	// MaxInterval is the longest interval a Rate may have. Idle keys are kept
	// for up to two intervals, so a longer interval would hold memory for days.
	MaxInterval = 24 * time.Hour
)

// Rate is a number of events per interval: Tokens events are allowed in each
// window of length Interval.
type Rate struct {
	// Tokens is the number of events allowed per Interval; at least 1.
	Tokens uint64
	// Interval is the window length, between MinInterval and MaxInterval.
	Interval time.Duration
}

// ParseRate parses a rate written as TOKENS/INTERVAL, where TOKENS is a
// positive decimal integer and INTERVAL is either a Go duration ("1m", "60s",
// "1h30m", "500ms") or a bare unit that stands for one of it ("s", "m", "h").
// Examples: "6/m", "600/1m", "30/60s", "10/s", "100/1h". Surrounding spaces
// are ignored. The rate must also pass the checks described at New; every
// error quotes the input.
func ParseRate(s string) (Rate, error) {
	in := s
	s = strings.TrimSpace(s)
	n, per, ok := strings.Cut(s, "/")
	if !ok || n == "" || per == "" {
		return Rate{}, fmt.Errorf("ratelimit: rate %q: want TOKENS/INTERVAL, e.g. \"6/m\" or \"600/1h\"", in)
	}
	tokens, err := strconv.ParseUint(n, 10, 64)
	if err != nil {
		return Rate{}, fmt.Errorf("ratelimit: rate %q: tokens %q is not a positive integer", in, n)
	}
	if c := per[0]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		per = "1" + per // "m" means "1m"
	}
	interval, err := time.ParseDuration(per)
	if err != nil {
		return Rate{}, fmt.Errorf("ratelimit: rate %q: interval %q is not a duration like \"m\", \"60s\" or \"1h\"", in, per)
	}
	r := Rate{Tokens: tokens, Interval: interval}
	if err := r.validate(); err != nil {
		return Rate{}, fmt.Errorf("ratelimit: rate %q: %w", in, err)
	}
	return r, nil
}

// errRate is wrapped by every validation error.
var errRate = errors.New("invalid rate")

// validate reports why r cannot be enforced, or nil.
func (r Rate) validate() error {
	switch {
	case r.Tokens == 0:
		return fmt.Errorf("%w: tokens must be at least 1", errRate)
	case r.Interval < MinInterval:
		return fmt.Errorf("%w: interval %s is shorter than %s", errRate, r.Interval, MinInterval)
	case r.Interval > MaxInterval:
		return fmt.Errorf("%w: interval %s is longer than %s", errRate, r.Interval, MaxInterval)
	}
	// go-limiter v0.7.1 refills a bucket with interval/tokens tokens (interval
	// in nanoseconds) when a new window starts, capped at tokens. The refill is
	// complete only when tokens² ≤ interval in ns; beyond that the limit would
	// silently shrink after the first window.
	if ns := uint64(r.Interval); r.Tokens > ns/r.Tokens {
		max := uint64(math.Sqrt(float64(ns)))
		for max*max > ns {
			max--
		}
		return fmt.Errorf("%w: %d tokens per %s is too fine-grained for the in-memory store (at most %d per %s)",
			errRate, r.Tokens, formatInterval(r.Interval), max, formatInterval(r.Interval))
	}
	return nil
}

// String returns r in the form ParseRate reads, with the interval in its
// shortest whole unit: "6/1m", "100/1h", "90/90s", "3/200ms".
func (r Rate) String() string {
	return strconv.FormatUint(r.Tokens, 10) + "/" + formatInterval(r.Interval)
}

// formatInterval writes d as whole hours, minutes or seconds when it is one,
// and as time.Duration.String otherwise.
func formatInterval(d time.Duration) string {
	switch {
	case d > 0 && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d > 0 && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d > 0 && d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// PerMinute is the rate of n events a minute (at least 1), in a window of
// one minute where the in-memory store can keep it exactly, else of one
// second (n/60 a second, rounded up).
func PerMinute(n uint64) Rate {
	n = max(n, 1)
	if r := (Rate{Tokens: n, Interval: time.Minute}); r.validate() == nil {
		return r
	}
	return Rate{Tokens: (n + 59) / 60, Interval: time.Second}
}
