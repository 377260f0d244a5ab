package main

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
)

// bootstrapTTL is the lifetime of the platform JWT printed at start-up.
const bootstrapTTL = 12 * time.Hour

// printBootstrap prints, once, to the terminal (standard error, outside the
// structured log), a platform JWT signed with the throwaway key and the
// curl lines that get a first proxy heartbeating.
func printBootstrap(w io.Writer, signer *auth.Signer, addr net.Addr) error {
	jwt, err := signer.Sign("bootstrap", "", auth.RolePlatform, bootstrapTTL)
	if err != nil {
		return err
	}
	base := "http://" + localURLHost(addr)
	_, err = fmt.Fprintf(w, `
proxyhub: no signing key configured, so this hub made a throwaway one: the platform JWT
below is valid for %[3]s, and only until this process stops (its key goes with it).
Set PROXYHUB_SIGNING_KEY_FILE (proxyhub keygen) to keep keys.

  export PROXYHUB_JWT=%[1]s

Create a tenant and a heartbeat token, then send a heartbeat:

  curl -s -X POST %[2]s/v1/tenants -H "Authorization: Bearer $PROXYHUB_JWT" \
       -H 'Content-Type: application/json' -d '{"id":"demo","name":"Demo"}'
  TOKEN=$(curl -s -X POST %[2]s/v1/tenants/demo/tokens -H "Authorization: Bearer $PROXYHUB_JWT" \
       -H 'Content-Type: application/json' -d '{"label":"first proxy"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  curl -s "%[2]s/proxy_server?name=$(hostname)" -H "Authorization: Bearer $TOKEN"
  curl -s %[2]s/status -H "Authorization: Bearer $TOKEN"

`, jwt, base, ttlWords(bootstrapTTL))
	return err
}

// localURLHost turns a listen address into a host:port a local curl can
// reach (an unspecified host becomes localhost).
func localURLHost(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// ttlWords says a lifetime the way a person would ("12 hours").
func ttlWords(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d hours", d/time.Hour)
	}
	return d.String()
}
