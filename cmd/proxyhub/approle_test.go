package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/pgtest"
)

// The production path of the README: migrate as the database's superuser,
// serve as the application role migrate prepared; serve refuses the
// superuser unless told to allow it.
func TestMigrate_PreparesTheApplicationRoleThatServeConnectsAs(t *testing.T) {
	dbURL := pgtest.EmptyURL(t)
	adminURL := pgtest.AdminURL(t, dbURL)
	var super bool
	admin, err := pgx.Connect(t.Context(), adminURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	if err := admin.QueryRow(t.Context(), `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&super); err != nil {
		t.Fatal(err)
	}
	if !super {
		t.Skip("the test server's role is not a superuser: it cannot create the application role")
	}
	b := make([]byte, 6)
	rand.Read(b)
	role, password := "proxyhub_app_"+hex.EncodeToString(b), "pw-"+hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, `DROP OWNED BY `+role); err == nil {
			_, _ = admin.Exec(ctx, `DROP ROLE `+role)
		}
	})

	migrate := func() string {
		var out strings.Builder
		err := run(t.Context(), []string{"proxyhub", "migrate", "--app-role", role},
			env("PROXYHUB_DATABASE_URL", adminURL, "PROXYHUB_APP_PASSWORD", password), &out, os.Stderr)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if strings.Contains(out.String(), password) {
			t.Fatalf("migrate printed the password: %s", out.String())
		}
		return out.String()
	}
	if out := migrate(); !strings.Contains(out, "database schema at version") || !strings.Contains(out, "application role "+role+" created and granted, password set") {
		t.Fatalf("first migrate printed %q", out)
	}
	if out := migrate(); !strings.Contains(out, "application role "+role+" granted, password set") {
		t.Fatalf("second migrate printed %q", out)
	}

	keyFile := filepath.Join(t.TempDir(), "hub.key")
	if err := run(t.Context(), []string{"proxyhub", "keygen", "--out", keyFile}, env(), os.Stderr, os.Stderr); err != nil {
		t.Fatal(err)
	}
	serveEnv := func(dbURL string, kv ...string) func(string) string {
		return env(append([]string{"PROXYHUB_DATABASE_URL", dbURL, "PROXYHUB_SIGNING_KEY_FILE", keyFile, "PROXYHUB_TRUSTED_PROXIES", "127.0.0.1"}, kv...)...)
	}

	// As the superuser: refused, with the way out in the message.
	err = run(t.Context(), []string{"proxyhub", "serve", "--addr", "127.0.0.1:0"}, serveEnv(adminURL), os.Stderr, os.Stderr)
	if err == nil || !strings.Contains(err.Error(), "row-level security") || !strings.Contains(err.Error(), "PROXYHUB_ALLOW_SUPERUSER") {
		t.Fatalf("serve as a superuser: %v, want a refusal naming row-level security and PROXYHUB_ALLOW_SUPERUSER", err)
	}
	// Allowed explicitly, it starts and says what it gives up.
	_, logs, _, stop := startHubFull(t, serveEnv(adminURL, "PROXYHUB_ALLOW_SUPERUSER", "true"))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "row-level security is not enforced") {
		t.Errorf("serve as an allowed superuser logged no warning:\n%s", logs)
	}

	// As the application role, the whole hub works.
	u, _ := url.Parse(dbURL)
	u.User = url.UserPassword(role, password)
	base, stdout, _, _ := startHubFull(t, serveEnv(u.String()))
	for _, warning := range []string{"row-level security", "owner of the tables"} {
		if strings.Contains(stdout.String(), warning) {
			t.Errorf("serve as the application role warned %q:\n%s", warning, stdout)
		}
	}
	var jwt strings.Builder
	if err := run(t.Context(), []string{"proxyhub", "jwt", "--signing-key-file", keyFile, "--role", "platform"}, env(), &jwt, os.Stderr); err != nil {
		t.Fatal(err)
	}
	platform := strings.TrimSpace(jwt.String())
	if code, body := call(t, http.MethodPost, base+"/v1/tenants", platform, `{"id":"acme"}`); code != http.StatusCreated {
		t.Fatalf("create tenant as the application role: %d %v", code, body)
	}
	_, tok := call(t, http.MethodPost, base+"/v1/tenants/acme/tokens", platform, `{"label":"cron"}`)
	token := tok["token"].(string)
	heartbeatAs(t, base, token, "edge-1", "203.0.113.1")
	if got := heartbeatAs(t, base, token, "edge-1", "203.0.113.2"); got["previous_ip"] != "203.0.113.1" {
		t.Fatalf("IP change as the application role: %v", got)
	}

	// The tables belong to the superuser that migrated, not to the role
	// serve runs as.
	var owner string
	if err := admin.QueryRow(t.Context(), `SELECT tableowner FROM pg_tables WHERE tablename = 'proxies'`).Scan(&owner); err != nil || owner == role {
		t.Fatalf("proxies is owned by %q (%v), want the migrating role", owner, err)
	}
}
