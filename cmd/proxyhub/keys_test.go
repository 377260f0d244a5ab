package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeygenAndJWT_MintedTokensAreAcceptedByAHubWithTheKey(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "hub.key")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"proxyhub", "keygen", "--out", keyFile}, env(), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	if err := run(context.Background(), []string{"proxyhub", "keygen", "--out", keyFile}, env(), io.Discard, io.Discard); err == nil {
		t.Fatal("keygen overwrote an existing key")
	}

	mint := func(args ...string) string {
		t.Helper()
		var jwt bytes.Buffer
		if err := run(context.Background(), append([]string{"proxyhub", "jwt"}, args...), env("PROXYHUB_SIGNING_KEY_FILE", keyFile), &jwt, io.Discard); err != nil {
			t.Fatalf("jwt %v: %v", args, err)
		}
		return strings.TrimSpace(jwt.String())
	}
	platform := mint("--role", "platform", "--ttl", "10m")
	base, _, stderr, _ := startHubFull(t, env("PROXYHUB_SIGNING_KEY_FILE", keyFile))
	if strings.Contains(stderr.String(), "PROXYHUB_JWT") {
		t.Error("a hub with a key file printed a bootstrap JWT")
	}
	if code, body := call(t, http.MethodPost, base+"/v1/tenants", platform, `{"id":"acme"}`); code != http.StatusCreated {
		t.Fatalf("platform JWT from `proxyhub jwt`: %d %v", code, body)
	}
	viewer := mint("--tenant", "acme", "--role", "viewer")
	if code, _ := call(t, http.MethodGet, base+"/v1/tenants/acme/proxies", viewer, ""); code != http.StatusOK {
		t.Fatalf("viewer JWT: %d", code)
	}
	if code, _ := call(t, http.MethodPost, base+"/v1/tenants/acme/tokens", viewer, `{"label":"x"}`); code != http.StatusForbidden {
		t.Fatalf("viewer wrote: %d", code)
	}
}

func TestJWT_RejectsBadArguments(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "hub.key")
	if err := run(context.Background(), []string{"proxyhub", "keygen", "--out", keyFile}, env(), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	cases := [][]string{
		{"--role", "owner"},                        // tenant missing
		{"--role", "platform", "--tenant", "acme"}, // platform has no tenant
		{"--role", "god", "--tenant", "acme"},      // no such role
		{"--role", "viewer", "--tenant", "acme", "--ttl", "25h"},
	}
	for _, args := range cases {
		err := run(context.Background(), append([]string{"proxyhub", "jwt", "--signing-key-file", keyFile}, args...), env(), io.Discard, io.Discard)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("jwt %v: %v, want exit 2", args, err)
		}
	}
	err := run(context.Background(), []string{"proxyhub", "jwt", "--role", "platform"}, env(), io.Discard, io.Discard)
	if err == nil {
		t.Error("jwt without a key file succeeded")
	}
}

func TestServe_BadKeyFileStopsStartup(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"proxyhub", "serve", "--addr", "127.0.0.1:0"}, env("PROXYHUB_SIGNING_KEY_FILE", bad), io.Discard, io.Discard)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(ee.msg, "PROXYHUB_SIGNING_KEY_FILE") || strings.Contains(ee.msg, "c2VjcmV0") {
		t.Fatalf("err = %v", err)
	}
}

func TestServe_OfflineAfterIsTheDefaultOfNewTenants(t *testing.T) {
	base, _, stderr, _ := startHubFull(t, env("PROXYHUB_OFFLINE_AFTER", "30s"))
	jwt := bootstrapJWT.FindStringSubmatch(stderr.String())[1]
	code, body := call(t, http.MethodPost, base+"/v1/tenants", jwt, `{"id":"acme"}`)
	if code != http.StatusCreated || body["offline_after"] != 30.0 {
		t.Fatalf("tenant created under PROXYHUB_OFFLINE_AFTER=30s: %d %v", code, body)
	}
	if code, body = call(t, http.MethodPost, base+"/v1/tenants", jwt, `{"id":"globex","offline_after":90}`); body["offline_after"] != 90.0 {
		t.Fatalf("explicit offline_after: %d %v", code, body)
	}
}
