// Package clientip resolves the IP address of the caller of an HTTP request.
//
// proxyhub records the caller's IP on every heartbeat (GET /proxy_server?name=X),
// and that address is an audited, security-relevant fact. This package is the
// only place where it is derived, and it fails closed: when the answer cannot
// be determined with certainty it returns an error instead of guessing.
//
// # Policy
//
// The socket peer (http.Request.RemoteAddr) is always parsed first. Its port is
// stripped, IPv4-mapped IPv6 addresses are folded to IPv4 and IPv6 zones are
// dropped. An unparseable or unspecified peer yields ErrBadPeer.
//
// If the peer is not inside a trusted-proxy prefix (in particular, when no
// prefixes are configured at all), every forwarding header is ignored and the
// client is the peer.
//
// If the peer is a trusted proxy, the client is taken from X-Forwarded-For and
// from nothing else: Forwarded (RFC 7239), X-Real-IP, True-Client-IP,
// CF-Connecting-IP and similar headers are never consulted. All X-Forwarded-For
// header lines are merged in order, and the merged list is read from right to
// left: entries inside trusted prefixes are skipped and the first untrusted
// entry is the client. Entries left of that answer are never read, so whatever
// a client prepends (spoofed addresses, garbage) cannot influence the result.
//
// The resolution fails with ErrBadForwarded, and never falls back to the peer,
// when the trusted peer sent no X-Forwarded-For at all, when the entry at the
// answer position is empty, unparseable or the unspecified address, when every
// entry is trusted, or when the merged list has more than 100 entries.
//
// # Why not realclientip-go
//
// github.com/realclientip/realclientip-go v1.0.0 does not give these
// semantics:
//
//   - RightmostTrustedRangeStrategy reads the header regardless of who the
//     socket peer is; gating on the peer requires a ChainStrategy, whose
//     documented use is falling back to RemoteAddr, i.e. failing open.
//   - Every failure is reported as an empty string, so "no header",
//     "garbage at the answer position" and "every entry trusted" cannot be
//     told apart, and a bad peer cannot be told from a bad header.
//   - It returns addresses with their zone, has no cap on the number of
//     entries, and always parses the whole list into []*net.IPAddr
//     (allocating on every request) even though only the right-hand part is
//     needed.
//
// Wrapping it would have meant re-implementing almost all of the above around
// it, so the package uses net/netip directly, which also keeps the hot path
// free of allocations.
package clientip
