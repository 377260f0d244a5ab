package ratelimit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	valid := []struct {
		in   string
		want Rate
		str  string
	}{
		{"6/m", Rate{6, time.Minute}, "6/1m"},
		{"600/1m", Rate{600, time.Minute}, "600/1m"},
		{"30/60s", Rate{30, time.Minute}, "30/1m"},
		{"10/s", Rate{10, time.Second}, "10/1s"},
		{"100/1h", Rate{100, time.Hour}, "100/1h"},
		{"1/h", Rate{1, time.Hour}, "1/1h"},
		{"90/90s", Rate{90, 90 * time.Second}, "90/90s"},
		{"5/1m30s", Rate{5, 90 * time.Second}, "5/90s"},
		{"3/200ms", Rate{3, 200 * time.Millisecond}, "3/200ms"},
		{"2/1.5s", Rate{2, 1500 * time.Millisecond}, "2/1.5s"},
		{"1/ms", Rate{1, time.Millisecond}, "1/1ms"},
		{"7/24h", Rate{7, 24 * time.Hour}, "7/24h"},
		{" 6/m\t", Rate{6, time.Minute}, "6/1m"},
		{"244948/m", Rate{244948, time.Minute}, "244948/1m"}, // 244948² ≤ 6e10 < 244949²
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRate(tc.in)
			if err != nil {
				t.Fatalf("ParseRate(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("ParseRate(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if s := got.String(); s != tc.str {
				t.Fatalf("String() = %q, want %q", s, tc.str)
			}
			again, err := ParseRate(got.String())
			if err != nil || again != got {
				t.Fatalf("ParseRate(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}

	invalid := []struct {
		in, why string
	}{
		{"", "TOKENS/INTERVAL"},
		{"6", "TOKENS/INTERVAL"},
		{"/m", "TOKENS/INTERVAL"},
		{"6/", "TOKENS/INTERVAL"},
		{"0/m", "at least 1"},
		{"-1/m", "not a positive integer"},
		{"+1/m", "not a positive integer"},
		{"1.5/m", "not a positive integer"},
		{"x/m", "not a positive integer"},
		{"6 /m", "not a positive integer"},
		{"18446744073709551616/m", "not a positive integer"},
		{"6/x", "not a duration"},
		{"6/m/s", "not a duration"},
		{"6/1d", "not a duration"},
		{"6/-1m", "shorter than"},
		{"6/0s", "shorter than"},
		{"6/500us", "shorter than"},
		{"6/25h", "longer than"},
		{"244949/m", "too fine-grained"},
		{"1000000/s", "(at most 31622 per 1s)"},
	}
	for _, tc := range invalid {
		t.Run("bad "+tc.in, func(t *testing.T) {
			r, err := ParseRate(tc.in)
			if err == nil {
				t.Fatalf("ParseRate(%q) = %+v, want an error", tc.in, r)
			}
			msg := err.Error()
			if q := `"` + tc.in + `"`; !strings.Contains(msg, q) {
				t.Errorf("error %q does not quote the input %s", msg, q)
			}
			if !strings.Contains(msg, tc.why) {
				t.Errorf("error %q does not say %q", msg, tc.why)
			}
		})
	}
}

func TestRateValidate(t *testing.T) {
	for _, r := range []Rate{{0, time.Minute}, {1, 0}, {1, -time.Second}, {1, 25 * time.Hour}, {1 << 40, time.Hour}} {
		if err := r.validate(); !errors.Is(err, errRate) {
			t.Errorf("%+v.validate() = %v, want errRate", r, err)
		}
	}
}
