package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ago says how long before now t was, in its largest whole unit: "12s ago",
// "3m ago", "2h ago", "4d ago". A time after now reads "in 5m"; the zero
// time reads "never".
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + span(-d)
	}
	return span(d) + " ago"
}

// span is d in its largest whole unit: 12s, 3m, 2h, 4d.
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// stamp writes t the way the API does: RFC 3339 in UTC with milliseconds.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// optStamp is stamp of an optional time ("" when absent).
func optStamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return stamp(*t)
}

// parseSpan reads a positive length of time: a Go duration ("90m",
// "24h") or a whole number of days ("7d").
func parseSpan(v string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 24h or 7d", v)
	}
	if d < 0 {
		return 0, errors.New("a duration here must not be negative")
	}
	return d, nil
}

// parseAgo reads a point in the past: an RFC 3339 time, or a duration
// ("24h", "7d") meaning that long before now.
func parseAgo(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	d, err := parseSpan(v)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(-d), nil
}

// parseAhead reads a point in the future: an RFC 3339 time, or a duration
// ("720h", "30d") meaning that long after now.
func parseAhead(v string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		d, err := parseSpan(v)
		if err != nil {
			return time.Time{}, err
		}
		t = now.Add(d)
	}
	if !t.After(now) {
		return time.Time{}, errors.New("must be in the future")
	}
	return t, nil
}
