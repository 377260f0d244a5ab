package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe io.Writer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

var textListening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startHub runs `proxyhub serve` in-process on a free port and returns its
// base URL, its log, and a stop function that returns run's error.
func startHub(t *testing.T, getenv func(string) string, args ...string) (string, *syncBuffer, func() error) {
	base, stdout, _, stop := startHubFull(t, getenv, args...)
	return base, stdout, stop
}

// withDataDir returns getenv with PROXYHUB_DATA_DIR set to a fresh
// temporary directory when neither it nor a database URL is set: each
// test's hub keeps its data apart (never in the package's directory).
func withDataDir(t *testing.T, getenv func(string) string) func(string) string {
	if getenv("PROXYHUB_DATA_DIR") != "" || getenv("PROXYHUB_DATABASE_URL") != "" {
		return getenv
	}
	dir := t.TempDir()
	return func(k string) string {
		if k == "PROXYHUB_DATA_DIR" {
			return dir
		}
		return getenv(k)
	}
}

// startHubFull is startHub that also returns standard error. Unless
// getenv names a data directory or a database, the hub gets a temporary
// data directory of its own.
func startHubFull(t *testing.T, getenv func(string) string, args ...string) (string, *syncBuffer, *syncBuffer, func() error) {
	t.Helper()
	getenv = withDataDir(t, getenv)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"proxyhub", "serve", "--addr", "127.0.0.1:0"}, args...), getenv, stdout, stderr)
	}()
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("hub did not log its address; stdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s%s", err, stdout, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr = line.Addr
			} else if m := textListening.FindStringSubmatch(sc.Text()); m != nil {
				addr = m[1]
			}
		}
	}
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			return errors.New("serve did not stop after cancel")
		}
	})
	t.Cleanup(func() { _ = stop() })
	return "http://" + addr, stdout, stderr, stop
}

var bootstrapJWT = regexp.MustCompile(`export PROXYHUB_JWT=(\S+)`)

// call makes an HTTP request and decodes a JSON answer.
func call(t *testing.T, method, url, bearer, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// demoToken follows the bootstrap lines the hub printed: with the printed
// platform JWT it creates tenant demo and a heartbeat token.
func demoToken(t *testing.T, base string, stderr *syncBuffer) string {
	t.Helper()
	m := bootstrapJWT.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no bootstrap JWT printed:\n%s", stderr)
	}
	if code, body := call(t, http.MethodPost, base+"/v1/tenants", m[1], `{"id":"demo","name":"Demo"}`); code != http.StatusCreated {
		t.Fatalf("create tenant: %d %v", code, body)
	}
	code, body := call(t, http.MethodPost, base+"/v1/tenants/demo/tokens", m[1], `{"label":"test"}`)
	if code != http.StatusCreated {
		t.Fatalf("create token: %d %v", code, body)
	}
	return body["token"].(string)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestServe_EmbeddedStoreServesAndShutsDownCleanly(t *testing.T) {
	dir := t.TempDir()
	base, logs, stderr, stop := startHubFull(t, env("PROXYHUB_DATA_DIR", dir))
	for _, path := range []string{"/healthz", "/readyz", "/docs", "/openapi.json"} {
		if code, _ := get(t, base+path); code != http.StatusOK {
			t.Errorf("GET %s = %d", path, code)
		}
	}
	if code, _ := get(t, base+"/proxy_server?name=edge-7"); code != http.StatusUnauthorized {
		t.Errorf("heartbeat without a token: %d, want 401", code)
	}
	tok := demoToken(t, base, stderr)
	code, body := call(t, http.MethodGet, base+"/proxy_server?name=edge-7", tok, "")
	if code != 200 || body["remote_ip"] != "127.0.0.1" {
		t.Fatalf("heartbeat: %d %v", code, body)
	}
	if strings.Contains(logs.String(), tok) || strings.Contains(logs.String(), bootstrapJWT.FindStringSubmatch(stderr.String())[1]) {
		t.Error("a credential reached the structured log")
	}
	if err := stop(); err != nil {
		t.Fatalf("run returned %v after shutdown, want nil (exit 0)", err)
	}
	out := logs.String()
	if strings.Contains(out, "NOTHING IS KEPT") || strings.Contains(stderr.String(), "NOTHING IS KEPT") {
		t.Errorf("a hub with a data directory warned that nothing is kept:\n%s%s", out, stderr)
	}
	if !strings.Contains(out, `"data_dir":"`+dir+`"`) || !strings.Contains(stderr.String(), "data lives in "+dir) {
		t.Errorf("start-up does not say that data lives in %s:\n%s%s", dir, out, stderr)
	}
	if !strings.Contains(out, `"msg":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", out)
	}
	for _, name := range []string{"proxyhub.db", "signing.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("data directory lacks %s: %v", name, err)
		}
	}
}

func TestServe_MemoryDataDirWarnsThatNothingIsKept(t *testing.T) {
	base, logs, stderr, stop := startHubFull(t, env("PROXYHUB_DATA_DIR", ":memory:"))
	demoToken(t, base, stderr)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "NOTHING IS KEPT"); n != 1 {
		t.Errorf("in-memory warning logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(stderr.String(), "WARNING: in-memory store") {
		t.Errorf("no loud warning (WARN log line and start-up banner):\n%s%s", logs, stderr)
	}
	if !strings.Contains(stderr.String(), "throwaway") {
		t.Errorf("the bootstrap lines do not say the key is thrown away:\n%s", stderr)
	}
}

func TestServe_ShutdownDrainsInFlightRequests(t *testing.T) {
	base, _, stderr, stop := startHubFull(t, env())
	m := bootstrapJWT.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no bootstrap JWT printed:\n%s", stderr)
	}
	// A client is mid-request when the signal comes: it has sent its
	// headers and half of its body.
	body := `{"id":"late","name":"Sent across the shutdown signal"}`
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/tenants HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", m[1], len(body), body[:10])
	// Give the server a moment to accept the connection and read the
	// headers: a connection still in the listen queue when the listener
	// closes is reset by the kernel, drain or no drain.
	time.Sleep(200 * time.Millisecond)
	stopErr := make(chan error, 1)
	go func() { stopErr <- stop() }()
	// Shutdown has begun once the hub takes no new connections.
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the hub still takes new connections 5 s after the signal")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The rest of the body arrives during the shutdown: the request still
	// gets its answer, and what it did is done.
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatalf("the in-flight request's connection was cut: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the in-flight request: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || !strings.Contains(string(b), `"id":"late"`) {
		t.Fatalf("in-flight answer: %d %s", res.StatusCode, b)
	}
	if err := <-stopErr; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("hub still answers after shutdown")
	}
}

func TestServe_TextLogsPrintHeartbeatAndIPChangeLines(t *testing.T) {
	base, logs, stderr, _ := startHubFull(t, env("PROXYHUB_LOG_FORMAT", "json"), "--log-format", "text", "--trusted-proxies", "127.0.0.1")
	tok := demoToken(t, base, stderr)
	for _, ip := range []string{"203.0.113.7", "203.0.113.8"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/proxy_server?name=edge-7", nil)
		req.Header.Set("X-Forwarded-For", ip)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("heartbeat: %v %v", err, res)
		}
		res.Body.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "🔄 IP change edge-7: 203.0.113.7 → 203.0.113.8") {
		if time.Now().After(deadline) {
			t.Fatalf("no 🔄 IP change line in text log (flag must win over env):\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "✅ update edge-7 [203.0.113.7]") {
		t.Errorf("no ✅ update line:\n%s", logs)
	}
}

func TestRun_InvalidSettingsExitWith2NamingTheSetting(t *testing.T) {
	cases := []struct {
		name        string
		getenv      func(string) string
		args        []string
		wantMention string
	}{
		{"bad CIDR in env", env("PROXYHUB_TRUSTED_PROXIES", "10.0.0.0/33"), nil, "PROXYHUB_TRUSTED_PROXIES"},
		{"bad CIDR flag", env(), []string{"--trusted-proxies", "10.0.0.1,banana"}, "banana"},
		{"bad duration", env("PROXYHUB_OFFLINE_AFTER", "eighty"), nil, "offline-after"},
		{"duration out of range", env(), []string{"--offline-after", "0s"}, "PROXYHUB_OFFLINE_AFTER"},
		{"bad address", env("PROXYHUB_ADDR", "3001"), nil, "PROXYHUB_ADDR"},
		{"bad log format", env(), []string{"--log-format", "xml"}, "log-format"},
		{"bad log level", env("PROXYHUB_LOG_LEVEL", "loud"), nil, "PROXYHUB_LOG_LEVEL"},
		{"bad rate", env("PROXYHUB_RATE_HEARTBEAT", "lots"), nil, "PROXYHUB_RATE_HEARTBEAT"},
		{"retention too short", env("PROXYHUB_HISTORY_RETENTION", "1d"), nil, "at least 2d"},
		{"retention not a duration", env(), []string{"--history-retention", "forever"}, "PROXYHUB_HISTORY_RETENTION"},
		{"JWKS without issuer", env("PROXYHUB_JWT_JWKS_URL", "https://idp.example/jwks"), nil, "PROXYHUB_JWT_ISSUER"},
		{"unknown flag", env(), []string{"--nope"}, "nope"},
		{"stray argument", env(), []string{"extra"}, "extra"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"proxyhub", "serve"}, tc.args...), tc.getenv, io.Discard, io.Discard)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 {
				t.Fatalf("err = %v, want exit code 2", err)
			}
			if !strings.Contains(ee.msg, tc.wantMention) {
				t.Fatalf("message %q does not mention %q", ee.msg, tc.wantMention)
			}
		})
	}
}

func TestRun_HelpListsEverySettingWithDefault(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"proxyhub", "serve", "--help"}, env(), &out, &out); err != nil {
		t.Fatalf("--help returned %v, want nil", err)
	}
	for _, want := range []string{"PROXYHUB_ADDR", ":3001", "PROXYHUB_DATABASE_URL", "PROXYHUB_DATA_DIR", "./proxyhub-data", ":memory:", "PROXYHUB_OFFLINE_AFTER", "80s",
		"PROXYHUB_TRUSTED_PROXIES", "PROXYHUB_LOG_FORMAT", "PROXYHUB_LOG_LEVEL", "PROXYHUB_SHUTDOWN_TIMEOUT",
		"PROXYHUB_SIGNING_KEY_FILE", "PROXYHUB_JWT_JWKS_URL", "PROXYHUB_POLICY_DIR", "PROXYHUB_RATE_HEARTBEAT", "6/1m",
		"PROXYHUB_RATE_ADMIN", "PROXYHUB_RATE_AUTH_FAILURES"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("serve --help lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"proxyhub", "openapi", "--help"}, env(), &out, &out); err != nil || !strings.Contains(out.String(), "OpenAPI") {
		t.Errorf("openapi --help: %v %s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"proxyhub", "--help"}, env(), &out, &out); err != nil || !strings.Contains(out.String(), "serve") {
		t.Errorf("--help: %v %s", err, out.String())
	}
}

func TestRun_UnknownCommandExits2(t *testing.T) {
	err := run(context.Background(), []string{"proxyhub", "frobnicate"}, env(), io.Discard, io.Discard)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 {
		t.Fatalf("err = %v, want exit code 2", err)
	}
}

func TestOpenAPI_CommittedDocumentIsCurrent(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"proxyhub", "openapi"}, env(), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), committed) {
		t.Fatal("openapi.yaml is stale: run `go run ./cmd/proxyhub openapi > openapi.yaml` and commit it")
	}
	for _, op := range []string{"operationId: heartbeat", "operationId: get-status", "/proxy_server:", "/status:"} {
		if !strings.Contains(out.String(), op) {
			t.Errorf("document lacks %q", op)
		}
	}
}

func TestServe_BrokenPolicyDirStopsStartupWithTheCompilerMessage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/admin.rego", []byte("package proxyhub.admin\n\ndecision := {\"allow\": true if\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"proxyhub", "serve", "--addr", "127.0.0.1:0", "--policy-dir", dir}, env("PROXYHUB_DATA_DIR", ":memory:"), io.Discard, io.Discard)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(ee.msg, "admin.rego:") {
		t.Fatalf("err = %v, want exit 2 quoting admin.rego's line", err)
	}
}

func TestServe_ShutdownClosesLiveStreamsAndExitsCleanly(t *testing.T) {
	base, _, stderr, stop := startHubFull(t, env())
	jwt := bootstrapJWT.FindStringSubmatch(stderr.String())[1]
	demoToken(t, base, stderr)
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/tenants/demo/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+jwt)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("stream: %v %v", err, res)
	}
	defer res.Body.Close()
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("shutdown with an open stream: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v: the stream held it", d)
	}
}
