package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/pgtest"
)

// pgHub starts hubs on one PostgreSQL database with one signing key, as a
// fleet of hubs behind a balancer would run.
type pgHub struct {
	t       *testing.T
	url     string // the database, as its owner
	getenv  func(string) string
	keyFile string
}

func newPGHub(t *testing.T) *pgHub {
	t.Helper()
	url := pgtest.URL(t)
	keyFile := filepath.Join(t.TempDir(), "hub.key")
	if err := run(t.Context(), []string{"proxyhub", "keygen", "--out", keyFile}, env(), os.Stderr, os.Stderr); err != nil {
		t.Fatal(err)
	}
	return &pgHub{t: t, url: url, keyFile: keyFile, getenv: env(
		"PROXYHUB_DATABASE_URL", url, "PROXYHUB_SIGNING_KEY_FILE", keyFile,
		"PROXYHUB_TRUSTED_PROXIES", "127.0.0.1", "PROXYHUB_RATE_HEARTBEAT", "10000/1m", "PROXYHUB_RATE_HEARTBEAT_TOKEN", "off",
	)}
}

func (p *pgHub) start() (string, func() error) {
	base, _, _, stop := startHubFull(p.t, p.getenv)
	return base, stop
}

func (p *pgHub) jwt(args ...string) string {
	var out strings.Builder
	if err := run(p.t.Context(), append([]string{"proxyhub", "jwt", "--signing-key-file", p.keyFile}, args...), env(), &out, os.Stderr); err != nil {
		p.t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

func heartbeatAs(t *testing.T, base, token, name, ip string) map[string]any {
	t.Helper()
	code, body := call(t, http.MethodGet, base+"/proxy_server?name="+name, token, "", "X-Forwarded-For", ip)
	if code != http.StatusOK {
		t.Fatalf("heartbeat %s from %s via %s: %d %v", name, ip, base, code, body)
	}
	return body
}

func ipChanges(t *testing.T, base, jwt, tenant string) []map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/tenants/"+tenant+"/ip-changes.ndjson", nil)
	req.Header.Set("Authorization", "Bearer "+jwt)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out []map[string]any
	dec := json.NewDecoder(res.Body)
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestPostgres_RestartKeepsEverything(t *testing.T) {
	p := newPGHub(t)
	base, stop := p.start()
	platform := p.jwt("--role", "platform")
	if code, b := call(t, http.MethodPost, base+"/v1/tenants", platform, `{"id":"acme"}`); code != 201 {
		t.Fatalf("create tenant: %d %v", code, b)
	}
	_, tok := call(t, http.MethodPost, base+"/v1/tenants/acme/tokens", platform, `{"label":"cron"}`)
	token := tok["token"].(string)
	heartbeatAs(t, base, token, "edge-1", "203.0.113.1")
	heartbeatAs(t, base, token, "edge-1", "203.0.113.2")
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	base, _ = p.start() // a new hub on the same database
	_, st := call(t, http.MethodGet, base+"/status", token, "")
	ps := st["proxies"].([]any)
	if len(ps) != 1 || ps[0].(map[string]any)["remote_ip"] != "203.0.113.2" || ps[0].(map[string]any)["ip_changes"] != 1.0 {
		t.Fatalf("after restart: %v", st)
	}
	if got := heartbeatAs(t, base, token, "edge-1", "203.0.113.3"); got["previous_ip"] != "203.0.113.2" {
		t.Fatalf("IP change across the restart: %v", got)
	}
	if cs := ipChanges(t, base, p.jwt("--role", "viewer", "--tenant", "acme"), "acme"); len(cs) != 2 {
		t.Fatalf("history after restart: %v", cs)
	}
}

// twoHubs starts two hubs on one database, creates tenant acme through
// the first and a heartbeat token through the second, and returns the hubs'
// base URLs, a platform JWT, the token and its id.
func twoHubs(t *testing.T) (p *pgHub, a, b, platform, token, tokenID string) {
	t.Helper()
	p = newPGHub(t)
	a, _ = p.start()
	b, _ = p.start()
	platform = p.jwt("--role", "platform")
	if code, body := call(t, http.MethodPost, a+"/v1/tenants", platform, `{"id":"acme"}`); code != http.StatusCreated {
		t.Fatalf("create tenant: %d %v", code, body)
	}
	_, tok := call(t, http.MethodPost, b+"/v1/tenants/acme/tokens", platform, `{"label":"cron"}`)
	return p, a, b, platform, tok["token"].(string), tok["id"].(string)
}

func TestPostgres_TwoHubsRecordEveryChangeOnceInOrder(t *testing.T) {
	p, a, b, _, token, _ := twoHubs(t)
	const rounds = 40
	acked := 0
	for i := range rounds {
		hub := []string{a, b}[i%2] // a round-robin balancer
		if heartbeatAs(t, hub, token, "edge-1", fmt.Sprintf("203.0.113.%d", i%3+1))["ip_changed"] == true {
			acked++
		}
	}
	cs := ipChanges(t, a, p.jwt("--role", "viewer", "--tenant", "acme"), "acme")
	if len(cs) != acked || acked != rounds-1 {
		t.Fatalf("%d changes in the history, %d acknowledged, want %d", len(cs), acked, rounds-1)
	}
	for i := 0; i+1 < len(cs); i++ { // newest first: each change starts where the older one ended
		if cs[i]["old_ip"] != cs[i+1]["new_ip"] {
			t.Fatalf("history out of order at %d: %v after %v", i, cs[i], cs[i+1])
		}
	}
}

func TestPostgres_SweeperHandoverFlipsEachProxyOnce(t *testing.T) {
	p := newPGHub(t)
	a, logsA, _, stopA := startHubFull(t, p.getenv)
	// A starts first and takes the leaderships (sweeper and dispatcher)
	// before B exists: stopping A below hands over to B.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logsA.String(), `"leader":true`); {
		if time.Now().After(deadline) {
			t.Fatal("hub A never took the leadership")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := p.start()
	platform := p.jwt("--role", "platform")
	if code, body := call(t, http.MethodPost, a+"/v1/tenants", platform, `{"id":"acme","offline_after":1}`); code != 201 {
		t.Fatalf("create tenant: %d %v", code, body)
	}
	_, tok := call(t, http.MethodPost, a+"/v1/tenants/acme/tokens", platform, `{"label":"cron"}`)
	token := tok["token"].(string)
	for i := range 20 {
		heartbeatAs(t, []string{a, b}[i%2], token, fmt.Sprintf("edge-%02d", i), "203.0.113.1")
	}
	if err := stopA(); err != nil { // the leader goes away; B must take over
		t.Fatal(err)
	}
	viewer := p.jwt("--role", "viewer", "--tenant", "acme")
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, page := call(t, http.MethodGet, b+"/v1/tenants/acme/events?type=offline&limit=100", viewer, "")
		evs, _ := page["events"].([]any)
		if len(evs) >= 20 {
			seen := map[string]int{}
			for _, e := range evs {
				seen[e.(map[string]any)["proxy"].(string)]++
			}
			if len(evs) != 20 || len(seen) != 20 {
				t.Fatalf("%d offline events for %d proxies, want one each: %v", len(evs), len(seen), seen)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 20 proxies flipped offline 20 s after their deadline", len(evs))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPostgres_TokenRevokedOnOneHubIsRefusedByTheOther: hub A has used a
// token (and caches it); it is revoked through hub B. The next heartbeat
// with it through hub A answers 401 like any invalid credential and
// changes nothing.
func TestPostgres_TokenRevokedOnOneHubIsRefusedByTheOther(t *testing.T) {
	_, a, b, platform, token, id := twoHubs(t)
	heartbeatAs(t, a, token, "edge-1", "203.0.113.1")

	if code, body := call(t, http.MethodDelete, b+"/v1/tenants/acme/tokens/"+id, platform, ""); code != http.StatusNoContent {
		t.Fatalf("revoke through hub B: %d %v", code, body)
	}
	for _, name := range []string{"edge-1", "edge-2"} {
		code, body := call(t, http.MethodGet, a+"/proxy_server?name="+name, token, "", "X-Forwarded-For", "198.51.100.9")
		if code != http.StatusUnauthorized || body["detail"] != "missing or invalid credentials" {
			t.Fatalf("heartbeat of %s through hub A after the revocation: %d %v, want 401", name, code, body)
		}
	}
	_, list := call(t, http.MethodGet, a+"/v1/tenants/acme/proxies", platform, "")
	items, _ := list["proxies"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["remote_ip"] != "203.0.113.1" {
		t.Fatalf("proxies after the refused heartbeats: %v; want edge-1 unchanged and no edge-2", list)
	}
}

// Webhook signing secrets are sealed in the database; a secret a hub
// stored in the clear is sealed when a hub starts.
func TestPostgres_WebhookSecretsAreSealedAtRest(t *testing.T) {
	p := newPGHub(t)
	base, stop := p.start()
	platform := p.jwt("--role", "platform")
	if code, b := call(t, http.MethodPost, base+"/v1/tenants", platform, `{"id":"acme"}`); code != http.StatusCreated {
		t.Fatalf("create tenant: %d %v", code, b)
	}
	code, wh := call(t, http.MethodPost, base+"/v1/tenants/acme/webhooks", platform, `{"kind":"generic","url":"https://example.com/hook"}`)
	if code != http.StatusCreated {
		t.Fatalf("create webhook: %d %v", code, wh)
	}
	secret := wh["secret"].(string)
	conn, err := pgx.Connect(t.Context(), pgtest.AdminURL(t, p.url))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var stored string
	if err := conn.QueryRow(t.Context(), `SELECT secret FROM webhooks WHERE id = $1`, wh["id"]).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "sealed:v1:") || strings.Contains(stored, strings.TrimPrefix(secret, "whsec_")) {
		t.Fatalf("the database holds %q for the secret", stored)
	}

	// A row holding a secret in the clear, as a hub that did not seal
	// wrote it, is sealed by the next hub that starts.
	if _, err := conn.Exec(t.Context(), `UPDATE webhooks SET secret = $1 WHERE id = $2`, secret, wh["id"]); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, logs, _, _ := startHubFull(t, p.getenv)
	if err := conn.QueryRow(t.Context(), `SELECT secret FROM webhooks WHERE id = $1`, wh["id"]).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "sealed:v1:") || !strings.Contains(logs.String(), "sealed stored webhook secrets") {
		t.Fatalf("after a restart the database holds %q; log:\n%s", stored, logs)
	}
	if strings.Contains(logs.String(), secret) {
		t.Fatal("the hub logged the secret")
	}
}
