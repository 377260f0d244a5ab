package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// Webhook kinds.
const (
	// KindGeneric is a JSON POST signed per Standard Webhooks.
	KindGeneric = "generic"
	// KindSlack is a Slack (or compatible) incoming webhook: {"text": …}.
	KindSlack = "slack"
	// KindEmail is a plain-text mail to the address of a mailto: URL.
	KindEmail = "email"
)

// MaxURLLength is the longest webhook URL ValidateURL accepts.
const MaxURLLength = 2048

// ErrRefusedAddress is wrapped by the error of a delivery whose
// destination resolves to an address the SSRF guard refuses.
var ErrRefusedAddress = errors.New("destination refused")

// ValidateURL checks a webhook's kind and URL at creation or update:
// generic and slack need an http or https URL with a host, email a
// mailto: URL with exactly one bare address; no user info, no control
// characters or spaces, at most MaxURLLength bytes. It does not resolve
// DNS: destinations are checked at delivery time.
func ValidateURL(kind, rawURL string) error {
	if _, ok := channels[kind]; !ok {
		return fmt.Errorf("unknown webhook kind %q", kind)
	}
	switch {
	case rawURL == "":
		return errors.New("url is required")
	case len(rawURL) > MaxURLLength:
		return fmt.Errorf("url is longer than %d bytes", MaxURLLength)
	case strings.ContainsFunc(rawURL, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return errors.New("url must not contain spaces or control characters")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return errors.New("url is not a valid URL")
	}
	if u.User != nil {
		return errors.New("url must not contain user info")
	}
	if kind == KindEmail {
		if u.Scheme != "mailto" {
			return errors.New("email webhooks need a mailto: URL")
		}
		_, err := mailtoAddress(u)
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%s webhooks need an http or https URL", kind)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return errors.New("url must name a host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("url has an invalid port")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return errors.New("url has an invalid port")
	}
	return nil
}

// mailtoAddress returns the single bare address of a mailto: URL.
func mailtoAddress(u *url.URL) (string, error) {
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque == "" {
		return "", errors.New("mailto: URL must hold exactly one address and no parameters")
	}
	addr, err := url.PathUnescape(u.Opaque)
	if err != nil {
		return "", errors.New("mailto: URL is not valid")
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr || strings.ContainsAny(addr, "\r\n,;<>") {
		return "", errors.New("mailto: URL must hold exactly one bare address like ops@example.com")
	}
	return addr, nil
}

// blockedRange is a network the guard refuses, with the reason it gives.
type blockedRange struct {
	prefix netip.Prefix
	reason string
}

var blockedRanges = func() []blockedRange {
	list := []struct{ cidr, reason string }{
		{"0.0.0.0/8", "this-network"},
		{"10.0.0.0/8", "private"},
		{"100.64.0.0/10", "shared (CGNAT)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.169.254/32", "link-local (cloud metadata)"},
		{"169.254.0.0/16", "link-local"},
		{"172.16.0.0/12", "private"},
		{"192.0.0.0/24", "IETF protocol assignments"},
		{"192.168.0.0/16", "private"},
		{"198.18.0.0/15", "benchmarking"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"64:ff9b:1::/48", "NAT64 local-use"},
		{"100::/64", "discard-only"},
		{"fc00::/7", "private"},
		{"fe80::/10", "link-local"},
		{"fec0::/10", "site-local"},
		{"ff00::/8", "multicast"},
	}
	out := make([]blockedRange, len(list))
	for i, l := range list {
		out[i] = blockedRange{netip.MustParsePrefix(l.cidr), l.reason}
	}
	return out
}()

var (
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour    = netip.MustParsePrefix("2002::/16")
	teredo       = netip.MustParsePrefix("2001::/32")
	v4Compatible = netip.MustParsePrefix("::/96")
)

// embeddedIPv4 returns the IPv4 address an IPv6 address routes to or
// stands for: IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4
// (2002:aabb:ccdd::) and Teredo (its obfuscated client address).
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	if !ip.Is6() {
		return netip.Addr{}, false
	}
	b := ip.As16()
	switch {
	case v4Compatible.Contains(ip), nat64Prefix.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	case teredo.Contains(ip):
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	}
	return netip.Addr{}, false
}

// refusedReason says why the guard refuses ip, or "" when it may be
// dialled.
func refusedReason(ip netip.Addr) string {
	if !ip.IsValid() {
		return "invalid"
	}
	ip = ip.WithZone("").Unmap()
	for _, b := range blockedRanges {
		if b.prefix.Contains(ip) {
			return b.reason
		}
	}
	if v4, ok := embeddedIPv4(ip); ok {
		if r := refusedReason(v4); r != "" {
			return r + ", embedded in IPv6"
		}
	}
	return ""
}

// checkAddr returns an ErrRefusedAddress error when ip is refused.
func checkAddr(host string, ip netip.Addr) error {
	r := refusedReason(ip)
	if r == "" {
		return nil
	}
	if host == "" || host == ip.String() {
		return fmt.Errorf("%w: %s is %s (private destinations are not allowed)", ErrRefusedAddress, ip, r)
	}
	return fmt.Errorf("%w: %s resolves to %s, which is %s (private destinations are not allowed)", ErrRefusedAddress, host, ip, r)
}

// guard dials only addresses it has checked.
type guard struct {
	dialer       net.Dialer
	resolver     *net.Resolver
	allowPrivate bool
}

// dialContext resolves the host, refuses the whole destination when any of
// its addresses is refused, and dials the checked addresses (never the
// name, so a second resolution cannot change the answer).
func (g *guard) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ipNet := "ip"
		switch network {
		case "tcp4":
			ipNet = "ip4"
		case "tcp6":
			ipNet = "ip6"
		}
		if ips, err = g.resolver.LookupNetIP(ctx, ipNet, host); err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("lookup %s: no addresses", host)
		}
	}
	if !g.allowPrivate {
		for _, ip := range ips {
			if err := checkAddr(host, ip); err != nil {
				return nil, err
			}
		}
	}
	var first error
	for _, ip := range ips {
		c, err := g.dialer.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// controlRefused checks, at connect time, the address the socket is about
// to reach: a second line of defence behind dialContext's check.
func controlRefused(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address", ErrRefusedAddress)
	}
	return checkAddr("", ap.Addr())
}

// GuardedClient returns the SSRF-guarded HTTP client the dispatcher uses:
// it resolves each destination itself, refuses it when any of its
// addresses is loopback, private (RFC 1918, fc00::/7), link-local
// (169.254/16 with the 169.254.169.254 metadata service, fe80::/10),
// unspecified, multicast, CGNAT (100.64/10), 0.0.0.0/8, reserved, or one of
// these in IPv4-mapped, IPv4-compatible, NAT64, 6to4 or Teredo form, and
// dials only the addresses it checked (checked again at connect time).
// allowPrivate turns the address checks off. It never uses an environment
// proxy, never follows redirects (the 3xx response is returned, and the
// dispatcher counts it as a failure), and gives up after timeout.
func GuardedClient(allowPrivate bool, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	g := &guard{
		dialer:       net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second},
		resolver:     net.DefaultResolver,
		allowPrivate: allowPrivate,
	}
	if !allowPrivate {
		g.dialer.Control = controlRefused
	}
	tr := &http.Transport{
		Proxy:                  nil, // a proxy would dial on our behalf, unchecked
		DialContext:            g.dialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// CheckTarget validates a webhook's kind, URL and settings (hub.Notifier).
func (d *Dispatcher) CheckTarget(kind, rawURL string, settings map[string]string) error {
	return fieldError(ValidateTarget(kind, rawURL, settings))
}

// CheckCredential validates the credential of a target of kind
// (hub.Notifier).
func (d *Dispatcher) CheckCredential(kind, credential string) error {
	return fieldError(ValidateCredential(kind, credential))
}

// TakesCredential reports whether a kind keeps a credential (hub.Notifier).
func (d *Dispatcher) TakesCredential(kind string) bool { return TakesCredential(kind) }

// fieldError turns a TargetError into the hub's field error.
func fieldError(err error) error {
	var te *TargetError
	if errors.As(err, &te) {
		return &hub.FieldError{Field: "body." + te.Field, Reason: te.Msg}
	}
	return err
}

// NewSigningSecret returns a new signing secret for a webhook of kind
// (hub.Notifier): generic webhooks are signed, the other kinds are not and
// get "".
func (d *Dispatcher) NewSigningSecret(kind string) (string, error) {
	if kind != KindGeneric {
		return "", nil
	}
	return NewSecret()
}

// ShownURL is a target's URL as the API shows it (hub.Notifier): for kinds
// whose URL is a credential, only its scheme and host, then "/…".
func (d *Dispatcher) ShownURL(kind, rawURL string) string {
	if !URLIsCredential(kind) {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/…"
}
