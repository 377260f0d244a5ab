package hub

import (
	"fmt"
	"net/netip"
	"slices"
)

// MaxCIDRs is the most entries an allowlist may hold.
const MaxCIDRs = 1000

// CIDRError is an allowlist entry that is not a valid network. The API
// answers it with 400 and the offending entry.
type CIDRError struct{ FieldError }

// BadRequest marks the error for a 400 answer.
func (*CIDRError) BadRequest() bool { return true }

func cidrErr(field, reason string) error { return &CIDRError{FieldError{field, reason}} }

// ParseCIDRs validates and normalises an allowlist: each entry an IPv4 or
// IPv6 network in CIDR notation with no host bits set (203.0.113.0/24, not
// 203.0.113.7/24); IPv4-mapped IPv6 networks are folded to IPv4; the
// result is sorted and free of duplicates. field names the input in errors,
// which quote the offending entry.
func ParseCIDRs(field string, entries []string) ([]netip.Prefix, error) {
	if len(entries) > MaxCIDRs {
		return nil, cidrErr(field, fmt.Sprintf("at most %d entries", MaxCIDRs))
	}
	out := make([]netip.Prefix, 0, len(entries))
	for i, e := range entries {
		p, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, cidrErr(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q is not a CIDR network (like 203.0.113.0/24 or 2001:db8::/32)", clip(e)))
		}
		if p.Addr().Zone() != "" {
			return nil, cidrErr(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q has a zone", clip(e)))
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Masked() != p {
			return nil, cidrErr(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q has host bits set; did you mean %s?", clip(e), p.Masked()))
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return slices.Compact(out), nil
}

// clip shortens client text quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
