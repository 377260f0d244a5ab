package clientip

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedEntries is the largest number of entries accepted in the merged
// X-Forwarded-For list; longer lists are treated as header stuffing.
const maxForwardedEntries = 100

// maxQuoted is the longest piece of request-controlled text copied into an
// error message.
const maxQuoted = 64

const xForwardedFor = "X-Forwarded-For"

var (
	// ErrBadPeer reports that the request's RemoteAddr could not be parsed as
	// an IP address (with or without a port), or was the unspecified address.
	ErrBadPeer = errors.New("clientip: unusable peer address")

	// ErrBadForwarded reports that a trusted proxy did not reliably say who
	// the client is: it sent no X-Forwarded-For, the entry at the answer
	// position was empty, unparseable or unspecified, every entry was
	// trusted, or the list had more than 100 entries.
	ErrBadForwarded = errors.New("clientip: unusable X-Forwarded-For from trusted proxy")

	// ErrNotResolved is returned by FromContext when no resolution was stored
	// in the context, which means the resolving middleware did not run.
	ErrNotResolved = errors.New("clientip: client IP not resolved")
)

// Result is the outcome of resolving a request's client IP.
type Result struct {
	// Client is the resolved caller: the audited fact. It is the zero Addr
	// whenever resolution failed.
	Client netip.Addr
	// Peer is the socket peer as seen by the server (port and zone removed,
	// IPv4-mapped addresses folded to IPv4). It is set whenever RemoteAddr
	// could be parsed, including when the X-Forwarded-For was rejected.
	Peer netip.Addr
	// ViaForwarded is true when Client came from X-Forwarded-For.
	ViaForwarded bool
}

// ParseTrusted parses a comma-separated list of IPs and CIDRs into prefixes.
//
// Spaces around entries are allowed and an empty (or all-blank) string yields
// nil, nil. A bare IP becomes a /32 or /128 prefix. IPv4-mapped IPv6 forms are
// folded to IPv4 (::ffff:10.0.0.0/104 becomes 10.0.0.0/8). Prefixes are masked,
// so host bits are cleared. Empty entries (as in "a,,b" or a trailing comma),
// zones, and IPv4-mapped prefixes shorter than /96 are rejected. An invalid
// entry returns an error that quotes the offending entry.
func ParseTrusted(s string) ([]netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for i, raw := range strings.Split(s, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			return nil, fmt.Errorf("clientip: trusted proxy entry %d is empty in %q", i+1, s)
		}
		p, err := parseTrustedEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("clientip: invalid trusted proxy entry %q: %w", entry, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseTrustedEntry(entry string) (netip.Prefix, error) {
	if strings.IndexByte(entry, '%') >= 0 {
		return netip.Prefix{}, errors.New("zones are not allowed")
	}
	if strings.IndexByte(entry, '/') >= 0 {
		p, err := netip.ParsePrefix(entry)
		if err != nil {
			return netip.Prefix{}, err
		}
		return foldPrefix(p)
	}
	a, err := netip.ParseAddr(entry)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// foldPrefix converts an IPv4-mapped IPv6 prefix to its IPv4 equivalent and
// masks it.
func foldPrefix(p netip.Prefix) (netip.Prefix, error) {
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("IPv4-mapped prefix shorter than /96 cannot be folded to IPv4")
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// Resolver resolves the client IP of a request. Safe for concurrent use; the
// zero value (and a nil *Resolver) trusts nobody, so it always returns the peer.
type Resolver struct {
	v4 []netip.Prefix
	v6 []netip.Prefix
}

// NewResolver returns a Resolver that treats peers and X-Forwarded-For entries
// inside the trusted prefixes as proxies. The slice is copied; prefixes are
// masked, IPv4-mapped prefixes of /96 or longer are folded to IPv4 and invalid
// (zero) prefixes are ignored, so passing nil trusts nobody.
func NewResolver(trusted []netip.Prefix) *Resolver {
	r := &Resolver{}
	for _, p := range trusted {
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = netip.PrefixFrom(p.Addr().WithZone(""), p.Bits()).Masked()
		if p.Addr().Is4() {
			r.v4 = append(r.v4, p)
		} else {
			r.v6 = append(r.v6, p)
		}
	}
	return r
}

// Trusted reports whether addr is inside a trusted-proxy prefix. The address is
// normalised first (zone dropped, IPv4-mapped folded to IPv4); the zero Addr is
// never trusted.
func (r *Resolver) Trusted(addr netip.Addr) bool {
	if r == nil {
		return false
	}
	addr = addr.WithZone("").Unmap()
	var prefixes []netip.Prefix
	switch {
	case addr.Is4():
		prefixes = r.v4
	case addr.Is6():
		prefixes = r.v6
	default:
		return false
	}
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Resolve returns the client and the raw socket peer for a request's
// RemoteAddr and headers.
//
// On success Client is valid and never unspecified. On failure the error wraps
// ErrBadPeer or ErrBadForwarded, Client is the zero Addr and Peer is set if
// RemoteAddr could be parsed. Error messages never contain more than 64 bytes
// of any header value.
func (r *Resolver) Resolve(remoteAddr string, h http.Header) (Result, error) {
	peer, ok := parseAddr(remoteAddr)
	if !ok || peer.IsUnspecified() {
		return Result{}, fmt.Errorf("%w: RemoteAddr %s", ErrBadPeer, quote(remoteAddr))
	}
	res := Result{Peer: peer}
	if !r.Trusted(peer) {
		res.Client = peer
		return res, nil
	}

	lines := h.Values(xForwardedFor)
	if len(lines) == 0 {
		return res, fmt.Errorf("%w: trusted peer %s sent no X-Forwarded-For", ErrBadForwarded, peer)
	}
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ",") + 1
		if n > maxForwardedEntries {
			return res, fmt.Errorf("%w: more than %d entries", ErrBadForwarded, maxForwardedEntries)
		}
	}

	// Walk the merged list right to left without building it: last line
	// first, and within each line last entry first.
	pos := n
	for li := len(lines) - 1; li >= 0; li-- {
		line := lines[li]
		for {
			pos--
			entry := line
			i := strings.LastIndexByte(line, ',')
			if i >= 0 {
				entry = line[i+1:]
			}
			entry = trimOWS(entry)
			addr, ok := parseAddr(entry)
			switch {
			case !ok:
				return res, fmt.Errorf("%w: entry %d of %d %s is not an IP address", ErrBadForwarded, pos+1, n, quote(entry))
			case addr.IsUnspecified():
				return res, fmt.Errorf("%w: entry %d of %d is the unspecified address %s", ErrBadForwarded, pos+1, n, addr)
			case !r.Trusted(addr):
				res.Client = addr
				res.ViaForwarded = true
				return res, nil
			}
			if i < 0 {
				break
			}
			line = line[:i]
		}
	}
	return res, fmt.Errorf("%w: all %d entries are trusted proxies", ErrBadForwarded, n)
}

// parseAddr parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port" and normalises
// the result: the zone is dropped and IPv4-mapped addresses are folded to IPv4.
// It does not allocate for IPv4 input, with or without a port.
func parseAddr(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	var host string
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" {
			if rest[0] != ':' || !validPort(rest[1:]) {
				return netip.Addr{}, false
			}
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return netip.Addr{}, false
		}
		return a.WithZone("").Unmap(), true
	}
	// Unbracketed: exactly one colon means IPv4 with a port; otherwise it is
	// a bare IPv4 (no colon) or a bare IPv6 (two or more colons).
	if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		if !validPort(s[i+1:]) {
			return netip.Addr{}, false
		}
		a, err := netip.ParseAddr(s[:i])
		if err != nil || !a.Is4() {
			return netip.Addr{}, false
		}
		return a, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// validPort reports whether s is a decimal port number in 0..65535.
func validPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

// trimOWS trims the optional whitespace (space and horizontal tab) that
// RFC 9110 allows around list elements.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// quote renders request-controlled text for an error message: Go-quoted (so
// control characters cannot forge log lines) and cut to maxQuoted bytes.
func quote(s string) string {
	if len(s) > maxQuoted {
		return fmt.Sprintf("%q… (%d bytes)", s[:maxQuoted], len(s))
	}
	return fmt.Sprintf("%q", s)
}
