package ui_test

// End-to-end tests of the dashboard in headless Chromium (Debian's
// chromium, driven with chromedp) against a real hub: its whole handler
// stack on a loopback server, with its background loops (sweeper, event
// bus) running on the real clock.
//
// Screenshots are written to $PROXYHUB_TEST_ARTIFACTS (default: a
// directory under the system's temporary directory, logged).

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/proxyhub/proxyhub/internal/app"
	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

// uiHub is a running hub the browser talks to.
type uiHub struct {
	t   *testing.T
	url string
	app *app.App
}

func startHub(t *testing.T) *uiHub {
	t.Helper()
	cfg, err := config.LoadServe(nil, func(k string) string {
		return map[string]string{
			"PROXYHUB_TRUSTED_PROXIES": "127.0.0.1",
			"PROXYHUB_RATE_HEARTBEAT":  "100000/1m",
			"PROXYHUB_RATE_ADMIN":      "100000/1m",
		}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Config: cfg, Store: memory.New(), SigningKey: key})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); cancel(); <-done; _ = a.Close() })
	return &uiHub{t: t, url: srv.URL, app: a}
}

// tenant creates a tenant with a heartbeat token and an admin credential
// of role, and returns the token, the client id and the client secret.
func (h *uiHub) tenant(id string, offlineAfter time.Duration, role auth.Role) (token, clientID, secret string) {
	h.t.Helper()
	ctx := context.Background()
	if _, err := h.app.Hub.CreateTenant(ctx, id, hub.TenantSettings{OfflineAfter: &offlineAfter}); err != nil {
		h.t.Fatal(err)
	}
	_, token, err := h.app.Hub.CreateToken(ctx, id, hub.NewToken{Label: "cron"})
	if err != nil {
		h.t.Fatal(err)
	}
	c, secret, err := h.app.Hub.CreateCredential(ctx, id, role, "dashboard")
	if err != nil {
		h.t.Fatal(err)
	}
	return token, c.ID, secret
}

// heartbeat sends one heartbeat of name from ip (X-Forwarded-For from the
// trusted loopback) and returns the answer's JSON.
func (h *uiHub) heartbeat(token, name, ip string) map[string]any {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+"/proxy_server?name="+name, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", ip)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || res.StatusCode != http.StatusOK {
		h.t.Fatalf("heartbeat %s from %s: %d %v", name, ip, res.StatusCode, err)
	}
	return m
}

// newBrowser starts headless Chromium; the test is skipped without it
// (failed under CI=true: .ci/run installs it).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	bin := os.Getenv("PROXYHUB_TEST_CHROMIUM")
	if bin == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		msg := "no Chromium (apt-get install chromium; .ci/run installs it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", bin, err)
	}
	return ctx
}

// artifacts is where screenshots and downloads go.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PROXYHUB_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "proxyhub-ui-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(artifacts(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// run runs browser actions with a deadline, failing the test with what
// it was waiting for.
func run(t *testing.T, ctx context.Context, what string, limit time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: %v\npage text:\n%s", what, err, page)
	}
}

// value runs one action that returns a value, failing the test on error.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// poll waits until the JavaScript expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond))
}

func TestDashboard_SignInFleetLiveProxyAuditAndIsolation(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	h := startHub(t)
	token, clientID, secret := h.tenant("acme", 2*time.Second, auth.RoleAdmin)
	otherToken, _, _ := h.tenant("globex", time.Minute, auth.RoleOwner)
	h.heartbeat(otherToken, "globex-vault", "203.0.113.99")
	ctx := newBrowser(t)

	// Sign in with the client credentials.
	run(t, ctx, "sign in", 15*time.Second,
		chromedp.Navigate(h.url+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("form-credentials")),
		chromedp.SendKeys(chromedp.ID("client-id"), clientID),
		chromedp.SendKeys(chromedp.ID("client-secret"), secret),
		chromedp.Click(chromedp.CSS("#form-credentials button")),
		chromedp.WaitVisible(chromedp.ID("view-fleet")),
		poll(`document.getElementById("counts").textContent.startsWith("0 proxies:")`),
		poll(`document.getElementById("live-state").textContent.startsWith("Live")`),
	)
	stored := value(t, ctx, "read storage", chromedp.Evaluate[string](`document.cookie + "|" + location.href`))
	if strings.Contains(stored, "eyJ") || strings.Contains(stored, secret) {
		t.Errorf("the token is in a cookie or the URL: %q", stored)
	}

	// A proxy appears after its first heartbeat, without a reload.
	h.heartbeat(token, "edge-1", "198.51.100.1")
	run(t, ctx, "the new proxy appears live", 10*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`tr[data-proxy="edge-1"]`)),
		poll(`document.querySelector('tr[data-proxy="edge-1"]').textContent.includes("198.51.100.1")`),
	)
	h.heartbeat(token, "edge-2", "198.51.100.20")
	h.heartbeat(token, "edge-3", "198.51.100.30")
	// Its IP change shows in the fleet and in its timeline.
	h.heartbeat(token, "edge-1", "198.51.100.2")
	run(t, ctx, "the IP change arrives live", 10*time.Second,
		poll(`document.querySelector('tr[data-proxy="edge-1"]').textContent.includes("198.51.100.2")`),
		poll(`document.getElementById("counts").textContent.startsWith("3 proxies: 3 online")`),
	)
	screenshot(t, ctx, "fleet")
	run(t, ctx, "the proxy page shows the change", 10*time.Second,
		chromedp.Click(chromedp.CSS(`tr[data-proxy="edge-1"] a`)),
		chromedp.WaitVisible(chromedp.ID("view-proxy")),
		poll(`document.getElementById("proxy-timeline").textContent.includes("198.51.100.1 → 198.51.100.2")`),
		poll(`document.getElementById("cron-line").textContent.includes("/proxy_server?name=edge-1")`),
	)
	screenshot(t, ctx, "proxy")

	// It turns offline live, within seconds of its deadline (2 s after its
	// last heartbeat).
	last := h.heartbeat(token, "edge-1", "198.51.100.2")
	at, _ := time.Parse(time.RFC3339Nano, last["timestamp"].(string))
	run(t, ctx, "back to the fleet", 5*time.Second, chromedp.Navigate(h.url+"/ui/#/fleet"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-proxy="edge-1"]`)))
	run(t, ctx, "the proxy turns offline", 15*time.Second,
		poll(`document.querySelector('tr[data-proxy="edge-1"]').classList.contains("offline")`),
	)
	late := time.Since(at.Add(2 * time.Second))
	t.Logf("figure: offline_shown_after_deadline=%v", late.Round(time.Millisecond))
	if late > 5*time.Second {
		t.Errorf("shown offline %v after its deadline, want within a few seconds", late)
	}
	statusText := value(t, ctx, "status text", chromedp.Text(chromedp.CSS(`tr[data-proxy="edge-1"] .status`)))
	if statusText != "offline" {
		t.Errorf("status shown as %q: colour must not be the only signal", statusText)
	}
	screenshot(t, ctx, "fleet-offline")

	// The audit page lists the change and downloads the same selection as CSV.
	downloads := t.TempDir()
	enabled := true
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &enabled,
	}); err != nil {
		t.Fatal(err)
	}
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	done := make(chan string, 1)
	go func() {
		for e, err := range progress {
			if err != nil {
				return
			}
			if e.State == browser.DownloadProgressStateCompleted {
				done <- e.GUID
				return
			}
		}
	}()
	run(t, ctx, "audit page and CSV", 15*time.Second,
		chromedp.Navigate(h.url+"/ui/#/audit"),
		chromedp.WaitVisible(chromedp.ID("view-audit")),
		poll(`document.getElementById("audit-table").textContent.includes("198.51.100.2")`),
		chromedp.SendKeys(chromedp.ID("audit-proxy"), "edge-1"),
		chromedp.Click(chromedp.ID("audit-csv")),
	)
	select {
	case guid := <-done:
		csv, err := os.ReadFile(filepath.Join(downloads, guid))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(csv), "edge-1") || !strings.Contains(string(csv), "198.51.100.2") || strings.Contains(string(csv), "globex") {
			t.Errorf("downloaded CSV:\n%s", csv)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the CSV download never completed")
	}

	// Another tenant's proxies are nowhere: not in the fleet, not by
	// address, not through the API with this admin's token.
	run(t, ctx, "isolation", 15*time.Second,
		chromedp.Navigate(h.url+"/ui/#/fleet"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-proxy="edge-1"]`)),
	)
	body := value(t, ctx, "page text", chromedp.Text(chromedp.CSS("body")))
	if strings.Contains(body, "globex") || strings.Contains(body, "203.0.113.99") {
		t.Errorf("acme's admin sees globex's fleet:\n%s", body)
	}
	if !value(t, ctx, "tenant picker", chromedp.Evaluate[bool](`document.getElementById("tenant-picker").offsetParent === null`)) {
		t.Error("a tenant admin is offered the tenant switch")
	}
	run(t, ctx, "another tenant's proxy page", 10*time.Second,
		chromedp.Navigate(h.url+"/ui/#/proxy/globex-vault"),
		poll(`document.getElementById("error").textContent !== ""`),
	)
	direct := value(t, ctx, "read globex through the API", chromedp.Evaluate[string](
		`fetch("/v1/tenants/globex/proxies", {headers: {Authorization: "Bearer " + sessionStorage.getItem("proxyhub.jwt")}}).then(r => r.status + " " + r.headers.get("content-type"))`,
		chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(direct, "403 ") && !strings.HasPrefix(direct, "404 ") {
		t.Errorf("acme's token reading globex's proxies through the API: %s", direct)
	}

	// Sign-out forgets the token.
	run(t, ctx, "sign out", 10*time.Second,
		chromedp.Navigate(h.url+"/ui/#/fleet"),
		chromedp.WaitVisible(chromedp.ID("signout")),
		chromedp.Click(chromedp.ID("signout")),
		chromedp.WaitVisible(chromedp.ID("view-signin")),
	)
	left := value(t, ctx, "storage after sign-out", chromedp.Evaluate[string](`String(sessionStorage.getItem("proxyhub.jwt"))`))
	if left != "null" {
		t.Errorf("after sign-out the token is still stored: %q", left)
	}
}

// signInWithJWT pastes an admin JWT into the sign-in form.
func signInWithJWT(t *testing.T, ctx context.Context, h *uiHub, tenant string, role auth.Role) {
	t.Helper()
	jwt, err := h.app.Signer.Sign("ui-test", tenant, role, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "sign in as "+string(role), 15*time.Second,
		chromedp.Navigate(h.url+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("form-jwt")),
		chromedp.SendKeys(chromedp.ID("jwt"), jwt),
		chromedp.Click(chromedp.CSS("#form-jwt button")),
		chromedp.WaitVisible(chromedp.ID("view-fleet")),
	)
}

func TestDashboard_RolesTenantSwitchEscapingAndLabels(t *testing.T) {
	if testing.Short() {
		t.Skip("drives a browser")
	}
	h := startHub(t)
	acmeToken, _, _ := h.tenant("acme", time.Minute, auth.RoleAdmin)
	globexToken, _, _ := h.tenant("globex", time.Minute, auth.RoleOwner)
	h.heartbeat(acmeToken, "acme-1", "198.51.100.1")
	h.heartbeat(globexToken, "globex-1", "203.0.113.1")
	// A label is user input: markup in it must show as text.
	const hostile = `<img src=x id=pwned onerror="document.title='pwned'">`
	if _, _, err := h.app.Hub.CreateToken(context.Background(), "acme", hub.NewToken{Label: hostile}); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t)

	// A platform user switches between tenants.
	signInWithJWT(t, ctx, h, "", auth.RolePlatform)
	run(t, ctx, "platform sees the first tenant", 10*time.Second,
		poll(`document.getElementById("tenant-picker").offsetParent !== null`),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-proxy="acme-1"]`)),
	)
	run(t, ctx, "platform switches to globex", 10*time.Second,
		chromedp.SetValue(chromedp.ID("tenant-select"), "globex"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("tenant-select").dispatchEvent(new Event("change"))`),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-proxy="globex-1"]`)),
		poll(`!document.querySelector('tr[data-proxy="acme-1"]')`),
	)
	run(t, ctx, "sign out", 5*time.Second, chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("view-signin")))

	// A viewer is shown no admin action, and the API refuses the action
	// anyway.
	signInWithJWT(t, ctx, h, "acme", auth.RoleViewer)
	run(t, ctx, "viewer's tokens page", 10*time.Second,
		chromedp.Navigate(h.url+"/ui/#/admin"),
		chromedp.WaitVisible(chromedp.ID("view-admin")),
		poll(`document.getElementById("token-table").textContent.includes("may not")`),
	)
	hidden := value(t, ctx, "admin actions", chromedp.Evaluate[bool](
		`document.getElementById("token-create").offsetParent === null && !document.querySelector("#token-table button") && document.getElementById("allowlist").readOnly && document.querySelector("#allowlist-form button").offsetParent === null`))
	if !hidden {
		t.Error("a viewer is shown admin actions")
	}
	status := value(t, ctx, "viewer creates a token through the API", chromedp.Evaluate[float64](
		`fetch("/v1/tenants/acme/tokens", {method: "POST", headers: {"Content-Type": "application/json", Authorization: "Bearer " + sessionStorage.getItem("proxyhub.jwt")}, body: '{"label":"x"}'}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if status != 403 {
		t.Errorf("a viewer creating a token through the API: %v, want 403", status)
	}
	screenshot(t, ctx, "tokens-viewer")
	run(t, ctx, "sign out", 5*time.Second, chromedp.Click(chromedp.ID("signout")), chromedp.WaitVisible(chromedp.ID("view-signin")))

	// An admin sees the tokens, with the hostile label as text, and the
	// actions.
	signInWithJWT(t, ctx, h, "acme", auth.RoleAdmin)
	run(t, ctx, "admin's tokens page", 10*time.Second,
		chromedp.Navigate(h.url+"/ui/#/admin"),
		chromedp.WaitVisible(chromedp.ID("view-admin")),
		poll(`document.getElementById("token-table").tBodies[0].rows.length === 2`),
		chromedp.WaitVisible(chromedp.ID("token-create")),
	)
	escaped := value(t, ctx, "the hostile label", chromedp.Evaluate[bool](
		`document.getElementById("token-table").textContent.includes('<img src=x id=pwned') && !document.getElementById("pwned") && document.title !== "pwned"`))
	if !escaped {
		t.Error("a token label's markup was rendered, not shown as text")
	}
	if n := value(t, ctx, "revoke buttons", chromedp.Evaluate[float64](`document.querySelectorAll("#token-table button").length`)); n != 2 {
		t.Errorf("%v revoke buttons for two live tokens", n)
	}
	screenshot(t, ctx, "tokens-admin")

	// Every form field has a label; everything is reachable by keyboard
	// (native links, buttons and fields only, none taken out of the tab order).
	unlabelled := value(t, ctx, "labels", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("input, select, textarea")].filter(e => e.labels.length === 0).map(e => e.id)`))
	if len(unlabelled) > 0 {
		t.Errorf("fields without a label: %v", unlabelled)
	}
	untabbable := value(t, ctx, "tab order", chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("a, button, input, select, textarea, [onclick], [tabindex]")].filter(e => e.tabIndex < 0).map(e => e.outerHTML.slice(0, 60))`))
	if len(untabbable) > 0 {
		t.Errorf("controls out of the tab order: %v", untabbable)
	}
}
