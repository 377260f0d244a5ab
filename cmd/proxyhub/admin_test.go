package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/clientip"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/ratelimit"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

// fakeClock is the clock of the hub under test and of the admin commands.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// adminHub is a hub (the production handler stack, memory store) behind
// httptest, and a platform JWT for it.
type adminHub struct {
	t     *testing.T
	url   string
	jwt   string
	clock *fakeClock
}

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func newAdminHub(t *testing.T) *adminHub {
	t.Helper()
	clock := &fakeClock{t: t0}
	prev := adminClock
	adminClock = clock.Now
	t.Cleanup(func() { adminClock = prev })

	cfg, err := config.LoadServe(nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The test plays the load balancer: X-Forwarded-For sets each
	// proxy's address.
	if cfg.TrustedProxies, err = clientip.ParseTrusted("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	many := ratelimit.Rate{Tokens: 100_000, Interval: time.Minute}
	cfg.RateHeartbeat, cfg.RateAdmin, cfg.RateAuthFailure = many, many, many
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Config: cfg, Clock: clock.Now, Store: memory.New(), SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); cancel(); _ = a.Close() })
	jwt, err := a.Signer.Sign("test-admin", "", auth.RolePlatform, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &adminHub{t: t, url: srv.URL, jwt: jwt, clock: clock}
}

// result is what one run of the binary left: its outputs and exit code.
type result struct {
	stdout, stderr string
	code           int
	msg            string // what main would print after "proxyhub: "
}

// cli runs `proxyhub args…` with PROXYHUB_URL and PROXYHUB_TOKEN set (and
// any more variables in kv).
func (h *adminHub) cli(token string, args []string, kv ...string) result {
	h.t.Helper()
	return h.cliCtx(context.Background(), token, args, kv...)
}

func (h *adminHub) cliCtx(ctx context.Context, token string, args []string, kv ...string) result {
	h.t.Helper()
	var out, errb bytes.Buffer
	err := run(ctx, append([]string{"proxyhub"}, args...), env(append([]string{"PROXYHUB_URL", h.url, "PROXYHUB_TOKEN", token}, kv...)...), &out, &errb)
	return toResult(err, out.String(), errb.String())
}

func toResult(err error, stdout, stderr string) result {
	r := result{stdout: stdout, stderr: stderr}
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code, r.msg = ee.code, ee.msg
	default:
		r.code, r.msg = 1, err.Error()
	}
	return r
}

// must runs the command as the platform admin and fails the test unless
// it succeeds.
func (h *adminHub) must(args ...string) string {
	h.t.Helper()
	r := h.cli(h.jwt, args)
	if r.code != 0 {
		h.t.Fatalf("proxyhub %s: exit %d %s\nstderr:\n%s", strings.Join(args, " "), r.code, r.msg, r.stderr)
	}
	return r.stdout
}

// heartbeat sends a proxy's heartbeat from ip, as cron's curl does.
func (h *adminHub) heartbeat(token, name, ip string) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+"/proxy_server?name="+url.QueryEscape(name), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", ip)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

var secretLine = regexp.MustCompile(`^phb_\S+\n$`)

// seedDemo creates tenant demo and a heartbeat token with the CLI, then
// makes a small history on the fake clock, ending at t0+160s:
//
//	zeta   t0 at .1, t0+10s to .9 (change), silent since: offline (80 s)
//	alpha  t0+100s at .2, t0+130s to .5 (change)
//	beta   t0+100s at .3, t0+130s to .4 (change)
func seedDemo(t *testing.T) *adminHub {
	h := newAdminHub(t)
	h.must("tenants", "create", "demo", "--name", "Demo", "--offline-after", "80")
	secret := h.must("tokens", "create", "--tenant", "demo", "--label", "edge cron")
	if !secretLine.MatchString(secret) {
		t.Fatalf("tokens create printed %q, want the secret alone", secret)
	}
	tok := strings.TrimSpace(secret)
	beat := func(name, ip string) {
		if code := h.heartbeat(tok, name, ip); code != http.StatusOK {
			t.Fatalf("heartbeat %s from %s: %d", name, ip, code)
		}
	}
	beat("zeta", "198.51.100.1")
	h.clock.Advance(10 * time.Second)
	beat("zeta", "198.51.100.9")
	h.clock.Advance(90 * time.Second)
	beat("alpha", "198.51.100.2")
	beat("beta", "198.51.100.3")
	h.clock.Advance(30 * time.Second)
	beat("beta", "198.51.100.4")
	beat("alpha", "198.51.100.5")
	h.clock.Advance(30 * time.Second)
	return h
}

func TestAdmin_StatusTableOfflineFirstThenByName(t *testing.T) {
	h := seedDemo(t)
	want := strings.Join([]string{
		"NAME   STATUS   IP            LAST SEEN  IP CHANGES  PAUSED",
		"zeta   offline  198.51.100.9  2m ago     1           no",
		"alpha  online   198.51.100.5  30s ago    1           no",
		"beta   online   198.51.100.4  30s ago    1           no",
		"3 proxies: 2 online, 1 offline",
		""}, "\n")
	if got := h.must("status", "--tenant", "demo"); got != want {
		t.Fatalf("status table:\n%s\nwant:\n%s", got, want)
	}
	// PROXYHUB_TENANT stands in for --tenant.
	if r := h.cli(h.jwt, []string{"status"}, "PROXYHUB_TENANT", "demo"); r.code != 0 || r.stdout != want {
		t.Fatalf("status with PROXYHUB_TENANT: exit %d %s\n%s", r.code, r.msg, r.stdout)
	}
}

func TestAdmin_StatusJSONAndCSVParse(t *testing.T) {
	h := seedDemo(t)
	var report struct {
		Total, Online, Offline int
		Proxies                []struct {
			Name, Status string
			RemoteIP     string `json:"remote_ip"`
			LastSeen     time.Time
			IPChanges    int `json:"ip_changes"`
		}
	}
	if err := json.Unmarshal([]byte(h.must("status", "--tenant", "demo", "-o", "json")), &report); err != nil {
		t.Fatal(err)
	}
	if report.Total != 3 || report.Online != 2 || report.Offline != 1 || len(report.Proxies) != 3 ||
		report.Proxies[0].Name != "zeta" || report.Proxies[0].Status != "offline" || report.Proxies[1].Name != "alpha" ||
		report.Proxies[1].RemoteIP != "198.51.100.5" || report.Proxies[1].IPChanges != 1 {
		t.Fatalf("status -o json: %+v", report)
	}

	rows, err := csv.NewReader(strings.NewReader(h.must("status", "--tenant", "demo", "--output=csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"name", "status", "remote_ip", "last_seen", "ip_changes", "paused"},
		{"zeta", "offline", "198.51.100.9", "2026-11-28T09:00:10.000Z", "1", "false"},
		{"alpha", "online", "198.51.100.5", "2026-11-28T09:02:10.000Z", "1", "false"},
		{"beta", "online", "198.51.100.4", "2026-11-28T09:02:10.000Z", "1", "false"},
	}
	if len(rows) != len(want) {
		t.Fatalf("status -o csv: %q", rows)
	}
	for i := range want {
		if strings.Join(rows[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("csv row %d = %q, want %q", i, rows[i], want[i])
		}
	}
}

func TestAdmin_HistoryFilters(t *testing.T) {
	h := seedDemo(t)
	for _, tc := range []struct {
		name  string
		args  []string
		want  []string // proxy:new_ip, newest first
		table string   // a line the table must contain
	}{
		{name: "all", args: nil, want: []string{"alpha:198.51.100.5", "beta:198.51.100.4", "zeta:198.51.100.9"}},
		{name: "since a duration", args: []string{"--since", "1m"}, want: []string{"alpha:198.51.100.5", "beta:198.51.100.4"}},
		{name: "proxy and since", args: []string{"--proxy", "beta", "--since", "1m"}, want: []string{"beta:198.51.100.4"},
			table: "2026-11-28T09:02:10Z  30s ago  beta   198.51.100.3  198.51.100.4"},
		{name: "since RFC 3339", args: []string{"--since", "2026-11-28T09:00:05Z", "--proxy", "zeta"}, want: []string{"zeta:198.51.100.9"}},
		{name: "until a duration", args: []string{"--until", "1m"}, want: []string{"zeta:198.51.100.9"}},
		{name: "ip", args: []string{"--ip", "198.51.100.3"}, want: []string{"beta:198.51.100.4"}},
		{name: "limit", args: []string{"--limit", "2"}, want: []string{"alpha:198.51.100.5", "beta:198.51.100.4"}},
		{name: "nothing", args: []string{"--proxy", "nope"}, want: nil, table: "0 IP changes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"history", "--tenant", "demo"}, tc.args...)
			var changes []struct {
				Proxy string
				NewIP string `json:"new_ip"`
			}
			out := h.must(append(args, "-o", "json")...)
			if err := json.Unmarshal([]byte(out), &changes); err != nil {
				t.Fatalf("history -o json is not one JSON array: %v\n%s", err, out)
			}
			var got []string
			for _, c := range changes {
				got = append(got, c.Proxy+":"+c.NewIP)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("history %q = %q, want %q", tc.args, got, tc.want)
			}
			table := h.must(args...)
			if n := strings.Count(table, "\n"); n != len(tc.want)+2 {
				t.Errorf("table has %d lines, want a header, %d rows and the count:\n%s", n, len(tc.want), table)
			}
			if tc.table != "" && !strings.Contains(table, tc.table) {
				t.Errorf("table lacks %q:\n%s", tc.table, table)
			}
		})
	}
}

// TestAdmin_HistoryCSVIsTheExportStream checks -o csv prints exactly what
// the hub's CSV export sends for the same filters.
func TestAdmin_HistoryCSVIsTheExportStream(t *testing.T) {
	h := seedDemo(t)
	export := func(query string) string {
		req, _ := http.NewRequest(http.MethodGet, h.url+"/v1/tenants/demo/ip-changes.csv?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+h.jwt)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("export: %d %s", res.StatusCode, b)
		}
		return string(b)
	}
	for _, tc := range []struct {
		args  []string
		query string
	}{
		{nil, ""},
		{[]string{"--proxy", "alpha"}, "proxy=alpha"},
		{[]string{"--since", "1m"}, "since=" + url.QueryEscape(t0.Add(100*time.Second).Format(time.RFC3339))},
	} {
		want := export(tc.query)
		if got := h.must(append([]string{"history", "--tenant", "demo", "-o", "csv"}, tc.args...)...); got != want {
			t.Errorf("history -o csv %q:\n%s\nwant the export:\n%s", tc.args, got, want)
		}
	}
	all := export("")
	lines := strings.SplitAfter(all, "\n")
	if got := h.must("history", "--tenant", "demo", "-o", "csv", "--limit", "1"); got != lines[0]+lines[1] {
		t.Errorf("--limit 1 -o csv:\n%s\nwant the header and the newest row of:\n%s", got, all)
	}
}

func TestAdmin_TenantsCreateAndList(t *testing.T) {
	h := newAdminHub(t)
	out := h.must("tenants", "create", "acme", "--name", "Acme Corp", "--offline-after", "2m", "--max-proxies", "50", "--auto-register=false")
	for _, want := range []string{"ID", "acme", "Acme Corp", "2m0s", "50", "no"} {
		if !strings.Contains(out, want) {
			t.Errorf("tenants create table lacks %q:\n%s", want, out)
		}
	}
	h.must("tenants", "create", "-o", "json", "beta")
	var tenants []struct {
		ID           string
		OfflineAfter int  `json:"offline_after"`
		MaxProxies   int  `json:"max_proxies"`
		AutoRegister bool `json:"auto_register"`
	}
	if err := json.Unmarshal([]byte(h.must("tenants", "list", "-o", "json")), &tenants); err != nil {
		t.Fatal(err)
	}
	if len(tenants) != 2 || tenants[0].ID != "acme" || tenants[0].OfflineAfter != 120 || tenants[0].MaxProxies != 50 ||
		tenants[0].AutoRegister || tenants[1].ID != "beta" || !tenants[1].AutoRegister {
		t.Fatalf("tenants list -o json: %+v", tenants)
	}
	rows, err := csv.NewReader(strings.NewReader(h.must("tenants", "list", "-o", "csv"))).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][0] != "acme" || rows[1][2] != "120" || rows[0][5] != "created_at" {
		t.Fatalf("tenants list -o csv: %q %v", rows, err)
	}
}

func TestAdmin_TokensCreateListRevoke(t *testing.T) {
	h := newAdminHub(t)
	h.must("tenants", "create", "demo")
	r := h.cli(h.jwt, []string{"tokens", "create", "--tenant", "demo", "--label", "edge-7 cron", "--proxy", "edge-7",
		"--expires", "720h", "--cidr", "203.0.113.0/24", "--cidr", "2001:db8::/32"})
	if r.code != 0 || !secretLine.MatchString(r.stdout) {
		t.Fatalf("tokens create: exit %d %s, stdout %q (want the secret alone)\n%s", r.code, r.msg, r.stdout, r.stderr)
	}
	secret := strings.TrimSpace(r.stdout)
	if strings.Contains(r.stderr, secret) || !strings.Contains(r.stderr, "tok_") {
		t.Errorf("stderr should name the token id, never the secret: %q", r.stderr)
	}

	var created struct {
		ID, Token, Label string
		Proxy            string
		ExpiresAt        time.Time `json:"expires_at"`
		AllowedCIDRs     []string  `json:"allowed_cidrs"`
	}
	if err := json.Unmarshal([]byte(h.must("tokens", "create", "--tenant", "demo", "--label", "laptop", "-o", "json")), &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Token, "phb_") || !strings.HasPrefix(created.ID, "tok_") || created.Label != "laptop" {
		t.Fatalf("tokens create -o json: %+v", created)
	}

	var tokens []struct {
		ID, Label    string
		Proxy        string
		ExpiresAt    time.Time `json:"expires_at"`
		AllowedCIDRs []string  `json:"allowed_cidrs"`
	}
	list := h.must("tokens", "list", "--tenant", "demo", "-o", "json")
	if err := json.Unmarshal([]byte(list), &tokens); err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 2 || tokens[0].Proxy != "edge-7" || !tokens[0].ExpiresAt.Equal(t0.Add(720*time.Hour)) ||
		strings.Join(tokens[0].AllowedCIDRs, " ") != "203.0.113.0/24 2001:db8::/32" {
		t.Fatalf("tokens list -o json: %+v", tokens)
	}
	if strings.Contains(list, secret) || strings.Contains(list, created.Token) {
		t.Fatal("tokens list shows a secret")
	}
	if code := h.heartbeat(created.Token, "laptop-1", "198.51.100.1"); code != http.StatusOK {
		t.Fatalf("heartbeat with the new token: %d", code)
	}

	if out := h.must("tokens", "revoke", "--tenant", "demo", created.ID); out != "revoked "+created.ID+"\n" {
		t.Fatalf("tokens revoke printed %q", out)
	}
	if code := h.heartbeat(created.Token, "laptop-1", "198.51.100.1"); code != http.StatusUnauthorized {
		t.Fatalf("heartbeat with a revoked token: %d, want 401", code)
	}
	table := h.must("tokens", "list", "--tenant", "demo")
	if !regexp.MustCompile(`(?m)^`+created.ID+`\s+laptop\s.*\srevoked$`).MatchString(table) ||
		!regexp.MustCompile(`(?m)^tok_\S+\s+edge-7 cron\s+edge-7\s+203.0.113.0/24,2001:db8::/32\s+0s ago\s+-\s+in 30d\s+active$`).MatchString(table) {
		t.Fatalf("tokens list table:\n%s", table)
	}
}

// TestAdmin_ClientCredentials uses an admin API credential (phc_…:phs_…),
// exchanged at /v1/auth/token, instead of a JWT.
func TestAdmin_ClientCredentials(t *testing.T) {
	h := seedDemo(t)
	code, body := call(t, http.MethodPost, h.url+"/v1/tenants/demo/credentials", h.jwt, `{"label":"laptop","role":"viewer"}`)
	if code != http.StatusCreated {
		t.Fatalf("create credential: %d %v", code, body)
	}
	cred := body["client_id"].(string) + ":" + body["client_secret"].(string)
	r := h.cli(cred, []string{"status", "--tenant", "demo"})
	if r.code != 0 || !strings.Contains(r.stdout, "3 proxies: 2 online, 1 offline") {
		t.Fatalf("status with client credentials: exit %d %s\n%s%s", r.code, r.msg, r.stdout, r.stderr)
	}
	// A viewer may read but not create tokens: 403, and the secret stays hidden.
	r = h.cli(cred, []string{"tokens", "create", "--tenant", "demo", "--label", "x"})
	if r.code != 1 || !strings.HasPrefix(r.stderr, "error: 403 Forbidden") {
		t.Fatalf("viewer creating a token: exit %d, stderr %q", r.code, r.stderr)
	}
	if secret := body["client_secret"].(string); strings.Contains(r.stdout+r.stderr+r.msg, secret) {
		t.Fatal("the client secret was printed")
	}
}

func TestAdmin_Errors(t *testing.T) {
	h := seedDemo(t)
	const (
		badJWT    = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJlLW5vdC12YWxpZA"
		badSecret = "phs_ThisIsNotTheSecretOfAnyCredential0000"
	)
	for _, tc := range []struct {
		name   string
		token  string
		args   []string
		env    []string
		code   int
		stderr []string // lines stderr must have, in order
		msg    string   // part of the usage message
	}{
		{name: "wrong JWT", token: badJWT, args: []string{"status", "--tenant", "demo"}, code: 1,
			stderr: []string{"error: 401 Unauthorized: "}},
		{name: "wrong client secret", token: "phc_nobody:" + badSecret, args: []string{"tenants", "list"}, code: 1,
			stderr: []string{"error: client credentials: 401 Unauthorized"}},
		{name: "unknown tenant", args: []string{"status", "--tenant", "nope"}, code: 1, stderr: []string{"error: 404 Not Found: not found"}},
		{name: "unknown tenant export", args: []string{"history", "--tenant", "nope", "-o", "csv"}, code: 1, stderr: []string{"error: 404 Not Found"}},
		{name: "field errors", args: []string{"tenants", "create", "X"}, code: 1,
			stderr: []string{"error: 422 Unprocessable Entity: validation failed", "  body.id: "}},
		{name: "conflict", args: []string{"tenants", "create", "demo"}, code: 1, stderr: []string{"error: 409 Conflict"}},
		{name: "no tenant", args: []string{"history"}, code: 2, msg: "PROXYHUB_TENANT"},
		{name: "no token", token: "-", args: []string{"tenants", "list"}, code: 2, msg: "PROXYHUB_TOKEN"},
		{name: "malformed credential", token: "phc_x:" + "not-a-secret-prefix", args: []string{"tenants", "list"}, code: 2, msg: "phc_…:phs_…"},
		{name: "bad URL", args: []string{"tenants", "list"}, env: []string{"PROXYHUB_URL", "localhost:3001"}, code: 2, msg: "PROXYHUB_URL"},
		{name: "bad output", args: []string{"tenants", "list", "-o", "xml"}, code: 2, msg: `"xml" is not one of table, json, csv`},
		{name: "csv where there is none", args: []string{"tokens", "create", "--tenant", "demo", "--label", "x", "-o", "csv"}, code: 2, msg: "output"},
		{name: "create without id", args: []string{"tenants", "create", "--name", "X"}, code: 2, msg: "tenant id"},
		{name: "revoke without id", args: []string{"tokens", "revoke", "--tenant", "demo"}, code: 2, msg: "token id"},
		{name: "bad since", args: []string{"history", "--tenant", "demo", "--since", "yesterday"}, code: 2, msg: "since"},
		{name: "past expiry", args: []string{"tokens", "create", "--tenant", "demo", "--label", "x", "--expires", "2020-01-01T00:00:00Z"}, code: 2, msg: "future"},
		{name: "unknown subcommand", args: []string{"tokens", "burn"}, code: 2, msg: "tokens burn"},
		{name: "missing subcommand", args: []string{"tenants"}, code: 2, msg: "which command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			switch token {
			case "":
				token = h.jwt
			case "-":
				token = ""
			}
			var out, errb bytes.Buffer
			getenv := env(append([]string{"PROXYHUB_URL", h.url, "PROXYHUB_TOKEN", token}, tc.env...)...)
			r := toResult(run(context.Background(), append([]string{"proxyhub"}, tc.args...), getenv, &out, &errb), out.String(), errb.String())
			if r.code != tc.code {
				t.Fatalf("exit %d (%s), want %d\nstdout:\n%s\nstderr:\n%s", r.code, r.msg, tc.code, r.stdout, r.stderr)
			}
			rest := r.stderr
			for _, want := range tc.stderr {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("stderr lacks %q:\n%s", want, r.stderr)
				}
				rest = rest[i+len(want):]
			}
			if !strings.Contains(r.msg, tc.msg) {
				t.Errorf("message %q lacks %q", r.msg, tc.msg)
			}
			if tc.code == 1 && r.stdout != "" {
				t.Errorf("a failed command printed to stdout: %q", r.stdout)
			}
			for _, secret := range []string{token, badSecret} {
				if secret != "" && strings.Contains(r.stdout+r.stderr+r.msg, secret) {
					t.Fatalf("the credential was printed:\n%s%s%s", r.stdout, r.stderr, r.msg)
				}
			}
		})
	}
}

func TestAdmin_StatusWatchRefreshesUntilCancelled(t *testing.T) {
	h := seedDemo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"proxyhub", "status", "--tenant", "demo", "--watch", "--interval", "20ms"},
			env("PROXYHUB_URL", h.url, "PROXYHUB_TOKEN", h.jwt), stdout, stderr)
	}()
	const summary = "3 proxies: 2 online, 1 offline\n"
	for deadline := time.Now().Add(10 * time.Second); strings.Count(stdout.String(), summary) < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 refreshes in 10 s:\n%s\nstderr:\n%s", stdout, stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch ended with %v, want a clean stop", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not stop after the context was cancelled")
	}
	out := stdout.String()
	if strings.Contains(out, "\x1b[") {
		t.Errorf("the screen was cleared although stdout is not a terminal:\n%q", out)
	}
	frames := strings.Split(strings.TrimSuffix(out, "\n"), "\n\n")
	for i, f := range frames {
		if !strings.HasPrefix(f, "NAME ") || !strings.HasSuffix(f, strings.TrimSuffix(summary, "\n")) {
			t.Fatalf("frame %d is not a whole table:\n%q", i, f)
		}
	}
	if stderr.String() != "" {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestRun_HelpListsAdminCommands(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"proxyhub", "help"}, env(), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tenants", "tokens", "status", "history", "PROXYHUB_TOKEN"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	for _, args := range [][]string{{"tenants", "--help"}, {"tokens", "create", "--help"}, {"status", "-h"}, {"history", "--help"}} {
		out.Reset()
		if err := run(context.Background(), append([]string{"proxyhub"}, args...), env(), &out, &out); err != nil || !strings.Contains(out.String(), "Usage: proxyhub "+args[0]) {
			t.Errorf("%q: %v\n%s", args, err, out.String())
		}
	}
}
