package hub_test

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// FuzzValidName: the proxy-name rule accepts exactly what NamePattern and
// MaxNameLength say (what the OpenAPI document promises), and never
// panics.
func FuzzValidName(f *testing.F) {
	pattern := regexp.MustCompile(hub.NamePattern)
	for _, s := range []string{"edge-7", "a", "-edge", "edge 7", "edge/7", "é", strings.Repeat("x", hub.MaxNameLength+1), "", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) <= hub.MaxNameLength && pattern.MatchString(s)
		if got := hub.ValidName(s); got != want {
			t.Fatalf("ValidName(%q) = %v, want %v", s, got, want)
		}
	})
}

// FuzzParseCIDRs: an allowlist either fails with an error naming the
// field, or comes back normalised: networks without host bits or zones,
// IPv4-mapped networks folded, sorted, without duplicates; parsing the
// result again changes nothing.
func FuzzParseCIDRs(f *testing.F) {
	f.Add("203.0.113.0/24", "2001:db8::/32")
	f.Add("203.0.113.7/24", "")
	f.Add("::ffff:192.0.2.0/120", "192.0.2.0/24")
	f.Add("fe80::%eth0/64", "0.0.0.0/0")
	f.Add("10.0.0.0/8", "10.0.0.0/8")
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := hub.ParseCIDRs("cidrs", []string{a, b})
		if err != nil {
			if !strings.Contains(err.Error(), "cidrs") {
				t.Fatalf("error does not name the field: %v", err)
			}
			return
		}
		for i, p := range got {
			if !p.IsValid() || p.Masked() != p || p.Addr().Zone() != "" || (p.Addr().Is4In6() && p.Bits() >= 96) {
				t.Fatalf("entry %d not normalised: %v", i, p)
			}
			if i > 0 && !less(got[i-1], p) {
				t.Fatalf("not sorted or not unique: %v", got)
			}
		}
		strs := make([]string, len(got))
		for i, p := range got {
			strs[i] = p.String()
		}
		again, err := hub.ParseCIDRs("cidrs", strs)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("parsing %v again: %v, %v", strs, again, err)
		}
	})
}

func less(a, b netip.Prefix) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Bits() < b.Bits()
}
