package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/config"
)

// bootstrapTTL is the lifetime of the platform JWT printed at start-up.
const bootstrapTTL = 12 * time.Hour

// printBootstrap prints, once, to the terminal (standard error, outside the
// structured log), a platform JWT signed with the hub's own key (kept in
// its data directory, or a throwaway one on the in-memory store) and the
// curl lines that get a first proxy heartbeating.
func printBootstrap(w io.Writer, hub *app.App, addr net.Addr) error {
	jwt, err := hub.Signer.Sign("bootstrap", "", auth.RolePlatform, bootstrapTTL)
	if err != nil {
		return err
	}
	base := "http://" + localURLHost(addr)
	keyNote := fmt.Sprintf(`proxyhub: no signing key configured, so this hub signs with its own, kept in
%[1]s: the platform JWT below is valid for %[2]s, across restarts.
Anyone who can read that file can mint platform JWTs: keep the data directory private.`, hub.OwnKeyFile, ttlWords(bootstrapTTL))
	if hub.ThrowawayKey {
		keyNote = fmt.Sprintf(`proxyhub: no signing key configured, so this hub made a throwaway one: the platform JWT
below is valid for %s, and only until this process stops (its key goes with it).
Set PROXYHUB_SIGNING_KEY_FILE (proxyhub keygen) to keep keys.`, ttlWords(bootstrapTTL))
	}
	_, err = fmt.Fprintf(w, `
%[3]s

  export PROXYHUB_JWT=%[1]s

Create a tenant and a heartbeat token, then send a heartbeat:

  curl -s -X POST %[2]s/v1/tenants -H "Authorization: Bearer $PROXYHUB_JWT" \
       -H 'Content-Type: application/json' -d '{"id":"demo","name":"Demo"}'
  TOKEN=$(curl -s -X POST %[2]s/v1/tenants/demo/tokens -H "Authorization: Bearer $PROXYHUB_JWT" \
       -H 'Content-Type: application/json' -d '{"label":"first proxy"}' | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
  curl -s "%[2]s/proxy_server?name=$(hostname)" -H "Authorization: Bearer $TOKEN"
  curl -s %[2]s/status -H "Authorization: Bearer $TOKEN"

`, jwt, base, keyNote)
	return err
}

// printDataDir says, on the terminal, where the hub keeps its data, and
// loudly when it keeps nothing.
func printDataDir(w io.Writer, hub *app.App) error {
	var err error
	switch hub.DataDir {
	case "":
		return nil
	case config.MemoryDataDir:
		_, err = fmt.Fprintf(w, "\n%[1]s\nproxyhub: WARNING: %[2]s.\nproxyhub: set --data-dir (PROXYHUB_DATA_DIR) to a directory to keep them.\n%[1]s\n",
			strings.Repeat("!", 78), app.MemoryWarning)
	default:
		_, err = fmt.Fprintf(w, "\nproxyhub: data lives in %s (database %s); back up that directory.\n",
			hub.DataDir, app.DatabaseFile)
	}
	return err
}

// dataDirAttr is where the hub keeps its data, for the start-up log line.
func dataDirAttr(hub *app.App) string {
	if hub.DataDir == "" {
		return "postgres"
	}
	return hub.DataDir
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
