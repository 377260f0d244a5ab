package sqlite

import (
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// How values are kept in the database: times as Unix nanoseconds (NULL
// when zero), addresses and prefixes as their canonical text, lists as
// comma-separated text, booleans as 0 and 1.

// nanos is t as Unix nanoseconds, or NULL for the zero time.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNanos is the time of Unix nanoseconds n, in UTC.
func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// fromNullNanos is the time of a nullable column: zero when NULL.
func fromNullNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

// addrText is a's canonical text, or NULL when a is not valid.
func addrText(a netip.Addr) any {
	if !a.IsValid() {
		return nil
	}
	return a.String()
}

// parseAddr reads an address column; NULL or ” is the zero Addr.
func parseAddr(s sql.NullString) (netip.Addr, error) {
	if !s.Valid || s.String == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s.String)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("sqlite: stored address %q: %w", s.String, err)
	}
	return a, nil
}

// prefixesText is ps as comma-separated text (” when empty).
func prefixesText(ps []netip.Prefix) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// parsePrefixes reads a prefix list column.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	out := make([]netip.Prefix, len(parts))
	for i, p := range parts {
		var err error
		if out[i], err = netip.ParsePrefix(p); err != nil {
			return nil, fmt.Errorf("sqlite: stored prefix %q: %w", p, err)
		}
	}
	return out, nil
}

// eventTypesText is ts as comma-separated text (” when empty: all).
func eventTypesText(ts []hub.EventType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = string(t)
	}
	return strings.Join(parts, ",")
}

// parseEventTypes reads an event type list column.
func parseEventTypes(s string) []hub.EventType {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]hub.EventType, len(parts))
	for i, p := range parts {
		out[i] = hub.EventType(p)
	}
	return out
}

// boolInt is b as 0 or 1.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
