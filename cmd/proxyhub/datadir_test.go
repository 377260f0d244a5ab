package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServe_RestartKeepsTheDataDirectory: a hub restarted on the same data
// directory still knows the tenant, the heartbeat token and the proxy with
// its history, and still accepts the bootstrap JWT printed before the
// restart (its key stays in the directory).
func TestServe_RestartKeepsTheDataDirectory(t *testing.T) {
	getenv := env("PROXYHUB_DATA_DIR", t.TempDir(), "PROXYHUB_TRUSTED_PROXIES", "127.0.0.1")
	base, _, stderr, stop := startHubFull(t, getenv)
	jwt := bootstrapJWT.FindStringSubmatch(stderr.String())[1]
	token := demoToken(t, base, stderr)
	heartbeatAs(t, base, token, "edge-1", "203.0.113.1")
	heartbeatAs(t, base, token, "edge-1", "203.0.113.2")
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	base, _, _, _ = startHubFull(t, getenv)
	if got := heartbeatAs(t, base, token, "edge-1", "203.0.113.3"); got["previous_ip"] != "203.0.113.2" {
		t.Fatalf("heartbeat after the restart: %v; want the token accepted and the IP change seen", got)
	}
	if code, body := call(t, http.MethodGet, base+"/v1/tenants/demo", jwt, ""); code != http.StatusOK {
		t.Fatalf("the bootstrap JWT of the first start after the restart: %d %v", code, body)
	}
	if cs := ipChanges(t, base, jwt, "demo"); len(cs) != 2 {
		t.Fatalf("history after the restart: %v", cs)
	}
}

// TestServe_SecondHubOnOneDataDirectoryFails: the data directory belongs
// to one hub; a second one stops at start-up saying so.
func TestServe_SecondHubOnOneDataDirectoryFails(t *testing.T) {
	getenv := env("PROXYHUB_DATA_DIR", t.TempDir())
	startHubFull(t, getenv)
	err := run(context.Background(), []string{"proxyhub", "serve", "--addr", "127.0.0.1:0"}, getenv, io.Discard, io.Discard)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(ee.msg, "another proxyhub") || !strings.Contains(ee.msg, "PROXYHUB_DATA_DIR") {
		t.Fatalf("second hub: %v, want exit 2 saying another proxyhub holds the data directory", err)
	}
}

// TestServe_ReadableKeyInTheDataDirectoryStopsStartup: the hub's own key
// must be private to it.
func TestServe_ReadableKeyInTheDataDirectoryStopsStartup(t *testing.T) {
	dir := t.TempDir()
	getenv := env("PROXYHUB_DATA_DIR", dir)
	_, _, _, stop := startHubFull(t, getenv)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "signing.key")
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key: %v, mode %v; want 0600", err, fi.Mode())
	}
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"proxyhub", "serve", "--addr", "127.0.0.1:0"}, getenv, io.Discard, io.Discard)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(ee.msg, "chmod 600") || !strings.Contains(ee.msg, "0644") {
		t.Fatalf("start with a world-readable key: %v, want exit 2 saying to chmod 600", err)
	}
}
