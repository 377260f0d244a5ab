package clientip

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
)

const trustedLB = "10.0.0.0/8, 192.168.0.0/16"

func mustTrusted(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrusted(s)
	if err != nil {
		t.Fatalf("ParseTrusted(%q): %v", s, err)
	}
	return p
}

func entries(n int, ip string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = ip
	}
	return strings.Join(parts, ", ")
}

func TestResolve(t *testing.T) {
	spoof := map[string]string{
		"X-Real-IP":        "6.6.6.6",
		"True-Client-IP":   "6.6.6.7",
		"CF-Connecting-IP": "6.6.6.8",
		"Forwarded":        "for=6.6.6.9",
		"Fastly-Client-IP": "6.6.6.10",
		"X-Client-IP":      "6.6.6.11",
		"X-Original-For":   "6.6.6.12",
	}
	tests := []struct {
		name    string
		trusted string
		remote  string
		xff     []string // nil: no X-Forwarded-For header at all
		extra   map[string]string
		client  string // "" when an error is expected
		peer    string // "" when the peer is unparseable
		via     bool
		err     error
	}{
		// No trusted proxies configured.
		{name: "no_trusted_proxies_ignores_xff", remote: "203.0.113.7:5555", xff: []string{"6.6.6.6"}, client: "203.0.113.7", peer: "203.0.113.7"},
		{name: "no_trusted_proxies_ignores_xff_even_from_private_peer", remote: "10.0.0.1:5555", xff: []string{"6.6.6.6"}, client: "10.0.0.1", peer: "10.0.0.1"},
		{name: "no_trusted_proxies_ignores_garbage_xff", remote: "203.0.113.7:5555", xff: []string{"unknown, ,,"}, client: "203.0.113.7", peer: "203.0.113.7"},
		{name: "no_trusted_proxies_without_xff_uses_peer", remote: "203.0.113.7:5555", client: "203.0.113.7", peer: "203.0.113.7"},

		// Untrusted peer.
		{name: "untrusted_peer_sending_xff_is_ignored", trusted: trustedLB, remote: "203.0.113.7:5555", xff: []string{"6.6.6.6, 10.0.0.2"}, client: "203.0.113.7", peer: "203.0.113.7"},
		{name: "untrusted_peer_sending_garbage_xff_is_not_an_error", trusted: trustedLB, remote: "203.0.113.7:5555", xff: []string{"garbage"}, client: "203.0.113.7", peer: "203.0.113.7"},
		{name: "untrusted_peer_sending_spoof_headers_is_ignored", trusted: trustedLB, remote: "203.0.113.7:5555", extra: spoof, client: "203.0.113.7", peer: "203.0.113.7"},

		// Trusted peer: happy paths and spoofing.
		{name: "trusted_peer_single_hop_uses_xff", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},
		{name: "spoofed_leftmost_entries_rightmost_untrusted_wins", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"6.6.6.6, 1.1.1.1, 203.0.113.9"}, client: "203.0.113.9", peer: "10.0.0.1", via: true},
		{name: "spoofed_trusted_looking_leftmost_entry_is_not_reached", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"10.9.9.9, 203.0.113.9, 10.0.0.2"}, client: "203.0.113.9", peer: "10.0.0.1", via: true},
		{name: "multiple_header_lines_are_merged_in_order", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"6.6.6.6, 198.51.100.1", "10.0.0.2"}, client: "198.51.100.1", peer: "10.0.0.1", via: true},
		{name: "multiple_header_lines_last_line_is_rightmost", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.1", "203.0.113.5"}, client: "203.0.113.5", peer: "10.0.0.1", via: true},
		{name: "multiple_header_lines_trusted_tail_crosses_line_boundary", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"6.6.6.6", "198.51.100.1, 10.0.0.3", "10.0.0.4", "192.168.1.1"}, client: "198.51.100.1", peer: "10.0.0.1", via: true},
		{name: "trusted_chain_of_several_hops_is_skipped", trusted: trustedLB, remote: "192.168.0.10:443", xff: []string{"198.51.100.7, 10.1.1.1, 10.2.2.2, 192.168.0.3"}, client: "198.51.100.7", peer: "192.168.0.10", via: true},
		{name: "all_trusted_chain_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"10.0.0.5, 192.168.3.3", "10.0.0.6"}, peer: "10.0.0.1", err: ErrBadForwarded},

		// Garbage and empty entries.
		{name: "garbage_unknown_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"unknown"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "garbage_word_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7, garbage, 10.0.0.2"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "obfuscated_identifier_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"_hidden"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "truncated_ipv4_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"1.2.3"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "hostname_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"client.example.com"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "cidr_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.0/24"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "ipv4_with_zone_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7%eth0"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "ipv4_with_bad_port_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7:http"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "ipv4_with_empty_port_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7:"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "ipv4_with_out_of_range_port_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7:65536"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "unterminated_bracket_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"[2001:db8::1"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "bracketed_ipv4_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"[198.51.100.7]"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "quoted_ip_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{`"198.51.100.7"`}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "garbage_left_of_answer_is_never_read", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"unknown, _hidden, 1.2.3, ,, 198.51.100.7, 10.0.0.2"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},
		{name: "garbage_line_left_of_answer_is_never_read", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"garbage", "198.51.100.7"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},
		{name: "empty_entries_at_answer_fail", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7,,"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "empty_entry_behind_trusted_hop_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7, , 10.0.0.2"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "trailing_comma_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7, "}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "empty_last_line_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7", ""}, peer: "10.0.0.1", err: ErrBadForwarded},

		// Ports, brackets, IPv6.
		{name: "ipv4_with_port_in_xff", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7:5678"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},
		{name: "trusted_ipv4_hop_with_port_is_skipped", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7, 10.0.0.2:8080"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},
		{name: "ipv6_with_port_in_xff", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"[2001:db8::1]:443"}, client: "2001:db8::1", peer: "10.0.0.1", via: true},
		{name: "bracketed_ipv6_without_port_in_xff", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"[2001:db8::1]"}, client: "2001:db8::1", peer: "10.0.0.1", via: true},
		{name: "bare_ipv6_in_xff", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"2001:db8::2"}, client: "2001:db8::2", peer: "10.0.0.1", via: true},
		{name: "bracketed_ipv6_with_trailing_garbage_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"[2001:db8::1]x"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "ipv6_trusted_cidr_skips_v6_hops", trusted: "2001:db8:100::/48", remote: "[2001:db8:100::1]:443", xff: []string{"6.6.6.6, 2001:db8:ffff::5, [2001:db8:100::7]:80, 2001:db8:100:0:ffff::9"}, client: "2001:db8:ffff::5", peer: "2001:db8:100::1", via: true},
		{name: "ipv6_trusted_cidr_does_not_trust_outside_peer", trusted: "2001:db8:100::/48", remote: "[2001:db8:101::1]:443", xff: []string{"198.51.100.7"}, client: "2001:db8:101::1", peer: "2001:db8:101::1"},

		// IPv4-mapped IPv6.
		{name: "ipv4_mapped_peer_is_folded_and_trusted", trusted: trustedLB, remote: "[::ffff:10.0.0.1]:443", xff: []string{"198.51.100.7"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},
		{name: "ipv4_mapped_untrusted_peer_is_folded", trusted: trustedLB, remote: "[::ffff:203.0.113.7]:443", xff: []string{"6.6.6.6"}, client: "203.0.113.7", peer: "203.0.113.7"},
		{name: "ipv4_mapped_client_in_xff_is_folded", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"::ffff:198.51.100.9"}, client: "198.51.100.9", peer: "10.0.0.1", via: true},
		{name: "ipv4_mapped_bracketed_client_with_port_is_folded", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"[::FFFF:198.51.100.9]:1234"}, client: "198.51.100.9", peer: "10.0.0.1", via: true},
		{name: "ipv4_mapped_trusted_hop_in_xff_is_skipped", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.9, ::ffff:10.0.0.9"}, client: "198.51.100.9", peer: "10.0.0.1", via: true},

		// Zones.
		{name: "zone_in_peer_is_dropped", remote: "[fe80::1%eth0]:80", client: "fe80::1", peer: "fe80::1"},
		{name: "zoned_peer_matches_trusted_prefix", trusted: "fe80::/10", remote: "[fe80::1%eth0]:443", xff: []string{"198.51.100.7"}, client: "198.51.100.7", peer: "fe80::1", via: true},
		{name: "zone_in_xff_client_is_dropped", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"fe80::99%en0"}, client: "fe80::99", peer: "10.0.0.1", via: true},
		{name: "zoned_trusted_hop_in_xff_is_skipped", trusted: "10.0.0.0/8, fe80::/10", remote: "10.0.0.1:443", xff: []string{"198.51.100.7, [fe80::2%eth1]:80"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},

		// Unspecified addresses.
		{name: "unspecified_ipv4_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7, 0.0.0.0"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "unspecified_ipv6_at_answer_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"::"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "unspecified_bracketed_ipv6_with_port_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"[::]:80"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "unspecified_ipv4_mapped_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"::ffff:0.0.0.0"}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "unspecified_left_of_answer_is_never_read", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"0.0.0.0, 198.51.100.7"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},

		// Missing or empty header from a trusted peer.
		{name: "trusted_peer_without_xff_fails", trusted: trustedLB, remote: "10.0.0.1:443", peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "trusted_peer_with_empty_xff_value_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{""}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "trusted_peer_with_blank_xff_value_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{" \t "}, peer: "10.0.0.1", err: ErrBadForwarded},

		// Peer forms.
		{name: "peer_given_as_bare_ipv4", remote: "203.0.113.7", client: "203.0.113.7", peer: "203.0.113.7"},
		{name: "peer_given_as_bare_ipv6", remote: "2001:db8::7", client: "2001:db8::7", peer: "2001:db8::7"},
		{name: "peer_given_as_bracketed_ipv6_without_port", remote: "[2001:db8::7]", client: "2001:db8::7", peer: "2001:db8::7"},
		{name: "trusted_peer_given_as_bare_ip", trusted: trustedLB, remote: "10.0.0.1", xff: []string{"198.51.100.7"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},
		{name: "bad_remote_addr_hostname", remote: "proxy.example.com:80", err: ErrBadPeer},
		{name: "bad_remote_addr_empty", remote: "", err: ErrBadPeer},
		{name: "bad_remote_addr_unix_socket", remote: "@", err: ErrBadPeer},
		{name: "bad_remote_addr_port_out_of_range", remote: "203.0.113.7:99999", err: ErrBadPeer},
		{name: "bad_remote_addr_unspecified", remote: "0.0.0.0:80", err: ErrBadPeer},
		{name: "bad_remote_addr_is_not_rescued_by_xff", trusted: trustedLB, remote: "garbage", xff: []string{"198.51.100.7"}, err: ErrBadPeer},

		// Header stuffing.
		{name: "exactly_100_entries_is_accepted", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{entries(99, "198.51.100.7") + ", 10.0.0.2"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},
		{name: "more_than_100_entries_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{entries(101, "198.51.100.7")}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "more_than_100_entries_across_lines_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{entries(60, "198.51.100.7"), entries(41, "10.0.0.2")}, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "more_than_100_empty_entries_fails", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{strings.Repeat(",", 100) + "198.51.100.7"}, peer: "10.0.0.1", err: ErrBadForwarded},

		// Case and whitespace.
		{name: "mixed_case_ipv6_and_whitespace", trusted: "10.0.0.0/8, 2001:DB8:AAAA::/48", remote: "10.0.0.1:443", xff: []string{"  6.6.6.6 ,\t2001:DB8::ABCD \t,\t2001:db8:aaaa::1  "}, client: "2001:db8::abcd", peer: "10.0.0.1", via: true},
		{name: "no_whitespace_between_entries", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7,10.0.0.2,10.0.0.3"}, client: "198.51.100.7", peer: "10.0.0.1", via: true},

		// Other client-IP headers are never consulted.
		{name: "x_real_ip_spoof_ignored_behind_trusted_proxy", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"198.51.100.7"}, extra: spoof, client: "198.51.100.7", peer: "10.0.0.1", via: true},
		{name: "x_real_ip_is_no_fallback_when_xff_missing", trusted: trustedLB, remote: "10.0.0.1:443", extra: spoof, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "x_real_ip_is_no_fallback_when_xff_all_trusted", trusted: trustedLB, remote: "10.0.0.1:443", xff: []string{"10.0.0.2"}, extra: spoof, peer: "10.0.0.1", err: ErrBadForwarded},
		{name: "x_real_ip_ignored_without_trusted_proxies", remote: "203.0.113.7:5555", extra: spoof, client: "203.0.113.7", peer: "203.0.113.7"},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewResolver(mustTrusted(t, tc.trusted))
			h := http.Header{}
			if tc.xff != nil {
				h[xForwardedFor] = tc.xff
			}
			for k, v := range tc.extra {
				h.Set(k, v)
			}

			got, err := r.Resolve(tc.remote, h)

			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if got.Client.IsValid() || got.ViaForwarded {
					t.Errorf("failed resolution leaked a client: %+v", got)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if want := addrOrZero(t, tc.client); got.Client != want {
				t.Errorf("Client = %v, want %v", got.Client, want)
			}
			if want := addrOrZero(t, tc.peer); got.Peer != want {
				t.Errorf("Peer = %v, want %v", got.Peer, want)
			}
			if got.ViaForwarded != tc.via {
				t.Errorf("ViaForwarded = %v, want %v", got.ViaForwarded, tc.via)
			}
			if err == nil && got.Client.Zone() != "" {
				t.Errorf("Client %v kept its zone", got.Client)
			}
		})
	}
}

func addrOrZero(t *testing.T, s string) netip.Addr {
	t.Helper()
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

func TestResolveErrorsDoNotEchoLongHeaderValues(t *testing.T) {
	r := NewResolver(mustTrusted(t, trustedLB))
	long := strings.Repeat("A", 4096)
	for _, tc := range []struct {
		name   string
		remote string
		xff    string
		want   error
	}{
		{"long_xff_entry", "10.0.0.1:443", long, ErrBadForwarded},
		{"long_xff_entry_with_control_chars", "10.0.0.1:443", "\r\nlevel=info msg=forged " + long, ErrBadForwarded},
		{"long_remote_addr", long, "", ErrBadPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Resolve(tc.remote, http.Header{xForwardedFor: {tc.xff}})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			msg := err.Error()
			if len(msg) > 250 {
				t.Errorf("error message is %d bytes long: %q", len(msg), msg)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error message contains raw control characters: %q", msg)
			}
		})
	}
}

func TestZeroAndNilResolverTrustNobody(t *testing.T) {
	h := http.Header{xForwardedFor: {"198.51.100.7"}}
	for name, r := range map[string]*Resolver{"zero": {}, "nil": nil, "NewResolver(nil)": NewResolver(nil)} {
		t.Run(name, func(t *testing.T) {
			got, err := r.Resolve("10.0.0.1:443", h)
			if err != nil {
				t.Fatal(err)
			}
			want := Result{Client: netip.MustParseAddr("10.0.0.1"), Peer: netip.MustParseAddr("10.0.0.1")}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if r.Trusted(netip.MustParseAddr("10.0.0.1")) {
				t.Error("Trusted returned true")
			}
		})
	}
}

func TestTrusted(t *testing.T) {
	r := NewResolver(append(mustTrusted(t, "10.0.0.0/8, 2001:db8::/32"),
		netip.Prefix{}, // invalid: ignored
		netip.MustParsePrefix("::ffff:172.16.0.0/108"), // mapped: folded to 172.16.0.0/12
		netip.MustParsePrefix("192.168.1.77/24"),       // unmasked: masked
	))
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", true},
		{"11.0.0.1", false},
		{"2001:db8::1", true},
		{"2001:db9::1", false},
		{"fe80::1%eth0", false},
		{"172.31.255.255", true},
		{"172.32.0.0", false},
		{"192.168.1.1", true},
	} {
		if got := r.Trusted(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Trusted(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if r.Trusted(netip.Addr{}) {
		t.Error("Trusted(zero Addr) = true")
	}
	zoned := NewResolver(mustTrusted(t, "fe80::/10"))
	if !zoned.Trusted(netip.MustParseAddr("fe80::1%eth0")) {
		t.Error("zoned address not matched against fe80::/10")
	}
}

func TestNewResolverCopiesInput(t *testing.T) {
	in := mustTrusted(t, "10.0.0.0/8")
	r := NewResolver(in)
	in[0] = netip.MustParsePrefix("0.0.0.0/0")
	if r.Trusted(netip.MustParseAddr("203.0.113.1")) {
		t.Fatal("mutating the caller's slice changed the resolver")
	}
}

func TestResolveConcurrent(t *testing.T) {
	r := NewResolver(mustTrusted(t, trustedLB))
	h := http.Header{xForwardedFor: {"6.6.6.6, 198.51.100.7, 10.0.0.2"}}
	want := netip.MustParseAddr("198.51.100.7")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				res, err := r.Resolve("10.0.0.1:443", h)
				if err != nil || res.Client != want {
					t.Errorf("got %v, %v", res.Client, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestParseTrusted(t *testing.T) {
	pfx := func(ss ...string) []netip.Prefix {
		out := make([]netip.Prefix, len(ss))
		for i, s := range ss {
			out[i] = netip.MustParsePrefix(s)
		}
		return out
	}
	tests := []struct {
		name    string
		in      string
		want    []netip.Prefix
		errQuot string // substring (the quoted entry) the error must contain; "" means no error
	}{
		{name: "empty_string", in: "", want: nil},
		{name: "blank_string", in: "  \t ", want: nil},
		{name: "single_cidr", in: "10.0.0.0/8", want: pfx("10.0.0.0/8")},
		{name: "list_with_spaces", in: " 10.0.0.0/8 ,192.168.0.0/16,  172.16.0.0/12 ", want: pfx("10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12")},
		{name: "bare_ipv4_becomes_32", in: "203.0.113.7", want: pfx("203.0.113.7/32")},
		{name: "bare_ipv6_becomes_128", in: "2001:db8::7", want: pfx("2001:db8::7/128")},
		{name: "ipv6_cidr", in: "2001:db8::/32, fd00::/8", want: pfx("2001:db8::/32", "fd00::/8")},
		{name: "uppercase_ipv6", in: "2001:DB8::/32", want: pfx("2001:db8::/32")},
		{name: "ipv4_host_bits_masked", in: "10.1.2.3/8", want: pfx("10.0.0.0/8")},
		{name: "ipv6_host_bits_masked", in: "2001:db8:1:2::1/32", want: pfx("2001:db8::/32")},
		{name: "mapped_bare_ip_folded", in: "::ffff:10.0.0.1", want: pfx("10.0.0.1/32")},
		{name: "mapped_prefix_folded", in: "::ffff:10.9.0.0/104", want: pfx("10.0.0.0/8")},
		{name: "mixed_list", in: "10.0.0.1, 2001:db8::/48, ::ffff:192.168.1.0/120", want: pfx("10.0.0.1/32", "2001:db8::/48", "192.168.1.0/24")},
		{name: "garbage_entry_quoted", in: "10.0.0.0/8, nope", errQuot: `"nope"`},
		{name: "truncated_ip_quoted", in: "1.2.3", errQuot: `"1.2.3"`},
		{name: "prefix_too_long_quoted", in: "10.0.0.0/33", errQuot: `"10.0.0.0/33"`},
		{name: "bad_prefix_length_quoted", in: "10.0.0.0/x", errQuot: `"10.0.0.0/x"`},
		{name: "hostname_quoted", in: "lb.internal", errQuot: `"lb.internal"`},
		{name: "zone_rejected_and_quoted", in: "fe80::1%eth0", errQuot: `"fe80::1%eth0"`},
		{name: "zoned_prefix_rejected_and_quoted", in: "fe80::%eth0/10", errQuot: `"fe80::%eth0/10"`},
		{name: "short_mapped_prefix_rejected", in: "::ffff:0:0/64", errQuot: `"::ffff:0:0/64"`},
		{name: "port_rejected", in: "10.0.0.1:80", errQuot: `"10.0.0.1:80"`},
		{name: "empty_middle_entry_rejected", in: "10.0.0.0/8,,192.168.0.0/16", errQuot: "entry 2 is empty"},
		{name: "trailing_comma_rejected", in: "10.0.0.0/8,", errQuot: "entry 2 is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTrusted(tc.in)
			if tc.errQuot != "" {
				if err == nil {
					t.Fatalf("ParseTrusted(%q) = %v, want error", tc.in, got)
				}
				if !strings.Contains(err.Error(), tc.errQuot) {
					t.Errorf("error %q does not contain %s", err, tc.errQuot)
				}
				if got != nil {
					t.Errorf("got %v alongside an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTrusted(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParseTrusted(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestContextRoundTrip(t *testing.T) {
	ok := Result{
		Client:       netip.MustParseAddr("198.51.100.7"),
		Peer:         netip.MustParseAddr("10.0.0.1"),
		ViaForwarded: true,
	}

	t.Run("nothing_stored", func(t *testing.T) {
		got, err := FromContext(context.Background())
		if !errors.Is(err, ErrNotResolved) || got != (Result{}) {
			t.Fatalf("got %+v, %v; want zero Result, ErrNotResolved", got, err)
		}
	})
	t.Run("success", func(t *testing.T) {
		got, err := FromContext(WithResult(context.Background(), ok, nil))
		if err != nil || got != ok {
			t.Fatalf("got %+v, %v; want %+v, nil", got, err, ok)
		}
	})
	t.Run("error_is_preserved_and_client_cleared", func(t *testing.T) {
		r := NewResolver(mustTrusted(t, trustedLB))
		res, resErr := r.Resolve("10.0.0.1:443", http.Header{})
		if !errors.Is(resErr, ErrBadForwarded) {
			t.Fatalf("setup: %v", resErr)
		}
		got, err := FromContext(WithResult(context.Background(), res, resErr))
		if err != resErr || got != res {
			t.Fatalf("got %+v, %v; want %+v, %v", got, err, res, resErr)
		}
		// Even a hand-built inconsistent pair never exposes a client.
		got, err = FromContext(WithResult(context.Background(), ok, ErrBadForwarded))
		if !errors.Is(err, ErrBadForwarded) || got.Client.IsValid() || got.ViaForwarded || got.Peer != ok.Peer {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("inner_value_wins", func(t *testing.T) {
		ctx := WithResult(context.Background(), Result{}, ErrBadPeer)
		ctx = WithResult(ctx, ok, nil)
		if got, err := FromContext(ctx); err != nil || got != ok {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}

func FuzzResolve(f *testing.F) {
	f.Add("10.0.0.1:443", "6.6.6.6, 198.51.100.7, 10.0.0.2", "")
	f.Add("[::ffff:10.0.0.1]:443", "[2001:db8::1]:80", "fe80::1%eth0")
	f.Add("10.0.0.1", "unknown", "0.0.0.0")
	f.Add("203.0.113.7:1", ",,,", "")
	r := NewResolver(mustTrusted(f, trustedLB+", fe80::/10"))
	f.Fuzz(func(t *testing.T, remote, line1, line2 string) {
		res, err := r.Resolve(remote, http.Header{xForwardedFor: {line1, line2}})
		if err != nil {
			if res.Client.IsValid() || res.ViaForwarded {
				t.Fatalf("error %v with client %+v", err, res)
			}
			if !errors.Is(err, ErrBadPeer) && !errors.Is(err, ErrBadForwarded) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		c := res.Client
		if !c.IsValid() || c.IsUnspecified() || c.Zone() != "" || c.Is4In6() {
			t.Fatalf("bad client %v", c)
		}
		if !res.Peer.IsValid() || res.Peer.Zone() != "" || res.Peer.Is4In6() {
			t.Fatalf("bad peer %v", res.Peer)
		}
		if !res.ViaForwarded && c != res.Peer {
			t.Fatalf("client differs from peer without X-Forwarded-For: %+v", res)
		}
		if r.Trusted(res.Peer) != res.ViaForwarded || (res.ViaForwarded && r.Trusted(c)) {
			t.Fatalf("trust invariant broken: %+v", res)
		}
	})
}

func BenchmarkResolve(b *testing.B) {
	b.Run("no_trusted_proxies", func(b *testing.B) {
		r := NewResolver(nil)
		h := http.Header{xForwardedFor: {"6.6.6.6"}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Resolve("203.0.113.7:54321", h); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("trusted_peer_3_hop_chain", func(b *testing.B) {
		r := NewResolver(mustTrusted(b, trustedLB))
		h := http.Header{xForwardedFor: {"198.51.100.23, 10.0.1.5, 192.168.2.9"}}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Resolve("10.0.0.1:54321", h); err != nil {
				b.Fatal(err)
			}
		}
	})
}
