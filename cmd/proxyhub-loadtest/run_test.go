package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// hubBinary is the proxyhub binary TestMain builds: the tests load a real
// hub process, as the command is used.
var hubBinary string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "proxyhub-loadtest-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	hubBinary = filepath.Join(dir, "proxyhub")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	build := exec.Command(goTool, "build", "-o", hubBinary, "github.com/proxyhub/proxyhub/cmd/proxyhub")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build proxyhub with %s: %v\n", goTool, err)
		return 1
	}
	return m.Run()
}

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

var bootstrapJWT = regexp.MustCompile(`export PROXYHUB_JWT=(\S+)`)

// startHub runs `proxyhub serve` as a process on a free port of 127.0.0.1,
// on the embedded store in a temporary data directory, with the PROXYHUB_* variables kv (name, value, ...)
// and no others from this environment. It returns the hub's base URL and the
// bootstrap platform JWT it printed; the hub gets SIGTERM at cleanup.
func startHub(t *testing.T, kv ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(hubBinary, "serve", "--addr", "127.0.0.1:0")
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PROXYHUB_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "PROXYHUB_DATA_DIR="+t.TempDir()) // the durable embedded store, apart from other tests
	for i := 0; i+1 < len(kv); i += 2 {
		cmd.Env = append(cmd.Env, kv[i]+"="+kv[i+1])
	}
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Errorf("the hub did not stop within 20s of SIGTERM; its log:\n%s", stdout)
		}
	})

	var addr string
	deadline := time.Now().Add(20 * time.Second)
	for addr == "" {
		if time.Now().After(deadline) {
			t.Fatalf("hub did not log its address; stdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
		select {
		case <-exited:
			t.Fatalf("serve ended early: %v\n%s%s", waitErr, stdout, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				addr = line.Addr
			}
		}
	}
	// The hub prints the bootstrap lines (standard error) before it logs
	// its address (standard output), but the two pipes are copied apart:
	// wait for them too.
	for {
		if m := bootstrapJWT.FindStringSubmatch(stderr.String()); m != nil {
			return "http://" + addr, m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no bootstrap JWT printed:\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// call makes an HTTP request and decodes a JSON answer.
func call(t *testing.T, method, url, bearer, body string) (int, map[string]any) {
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
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// loadtestHub starts a hub that believes X-Forwarded-For from loopback and
// lets each proxy heartbeat far more often than once a minute, and returns
// its URL and the bootstrap platform JWT.
func loadtestHub(t *testing.T) (string, string) {
	t.Helper()
	return startHub(t, "PROXYHUB_TRUSTED_PROXIES", "127.0.0.1", "PROXYHUB_RATE_HEARTBEAT", "100000/1m", "PROXYHUB_RATE_HEARTBEAT_TOKEN", "off")
}

// loadtestSummary is the part of the --json summary the tests check.
type loadtestSummary struct {
	Passed        bool             `json:"passed"`
	Mode          string           `json:"mode"`
	Proxies       int              `json:"proxies"`
	Tokens        int              `json:"tokens"`
	Requests      int64            `json:"requests"`
	Errors        map[string]int64 `json:"errors"`
	ErrorTotal    int64            `json:"error_total"`
	ThroughputRPS float64          `json:"throughput_rps"`
	Latency       struct{ P50, P90, P99, Max float64 }
	IPChanges     int64 `json:"ip_changes"`
	Verify        *struct {
		OK           bool `json:"ok"`
		Acknowledged int  `json:"acknowledged"`
		Recorded     int  `json:"recorded"`
	} `json:"verify"`
	Warmup   *struct{ Requests int64 } `json:"warmup"`
	Baseline *struct {
		Target        string  `json:"target"`
		Requests      int64   `json:"requests"`
		ThroughputRPS float64 `json:"throughput_rps"`
	} `json:"baseline"`
	Ratio *struct{ Throughput, P50, P99 float64 } `json:"ratio"`
}

// runLoadtest runs `proxyhub-loadtest --json ARGS` with the JWT in the
// environment and returns the parsed summary, run's error and the output.
func runLoadtest(t *testing.T, base, jwt string, args ...string) (loadtestSummary, error, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := env("PROXYHUB_LOADTEST_JWT", jwt, "PROXYHUB_LOADTEST_HUB", base)
	err := run(context.Background(), append([]string{"proxyhub-loadtest", "--json"}, args...), getenv, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if jwt != "" && strings.Contains(out, jwt) {
		t.Errorf("the admin JWT was printed:\n%s", out)
	}
	var s loadtestSummary
	if jerr := json.Unmarshal(stdout.Bytes(), &s); jerr != nil {
		t.Fatalf("summary is not JSON (%v); run returned %v:\n%s", jerr, err, out)
	}
	return s, err, out
}

// assertPassed checks a run had no errors, saw IP changes, and verified.
func assertPassed(t *testing.T, s loadtestSummary, err error, out string) {
	t.Helper()
	if err != nil {
		t.Fatalf("run returned %v:\n%s", err, out)
	}
	if !s.Passed || s.ErrorTotal != 0 || len(s.Errors) != 0 || s.Requests == 0 {
		t.Fatalf("want a pass without errors:\n%s", out)
	}
	if s.IPChanges == 0 {
		t.Fatalf("no IP change acknowledged: the change path was not exercised:\n%s", out)
	}
	if s.Verify == nil || !s.Verify.OK || s.Verify.Acknowledged != int(s.IPChanges) || s.Verify.Recorded != s.Verify.Acknowledged {
		t.Fatalf("verification did not pass:\n%s", out)
	}
}

func TestLoadtest_EveryModeRunsCleanAndVerifies(t *testing.T) {
	base, jwt := loadtestHub(t)
	cases := []struct {
		mode string
		args []string
	}{
		{"steady", []string{"--proxies", "100", "--rate", "400", "--duration", "1s"}},
		{"burst", []string{"--proxies", "200", "--rounds", "2", "--concurrency", "64"}},
		{"cron", []string{"--proxies", "100", "--period", "60s", "--compress", "120", "--rounds", "3"}},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			s, err, out := runLoadtest(t, base, jwt, append([]string{"--mode", tc.mode, "--tenant", "lt-" + tc.mode,
				"--tokens", "3", "--change-fraction", "0.2"}, tc.args...)...)
			assertPassed(t, s, err, out)
			if s.Mode != tc.mode || s.Tokens != 3 {
				t.Errorf("summary mode %q tokens %d", s.Mode, s.Tokens)
			}
			if tc.mode == "burst" && (s.Warmup == nil || s.Warmup.Requests != 200 || s.Requests != 400) {
				t.Errorf("burst: want a 200-heartbeat registration pass and 2×200 in bursts:\n%s", out)
			}
			if tc.mode == "cron" && s.Requests != 300 {
				t.Errorf("cron: want 3 periods × 100 proxies, got %d", s.Requests)
			}
		})
	}
	// A second run against the same tenant reuses the proxies (whose
	// addresses moved in the first) and still verifies.
	s, err, out := runLoadtest(t, base, jwt, "--mode", "burst", "--tenant", "lt-burst", "--proxies", "200", "--change-fraction", "0.2")
	assertPassed(t, s, err, out)
}

func TestLoadtest_BaselineReportsRatios(t *testing.T) {
	base, jwt := loadtestHub(t)
	s, err, out := runLoadtest(t, base, jwt, "--mode", "steady", "--proxies", "50", "--rate", "300", "--duration", "1s",
		"--change-fraction", "0.2", "--baseline")
	assertPassed(t, s, err, out)
	if s.Baseline == nil || s.Baseline.Requests == 0 || s.Baseline.ThroughputRPS <= 0 || !strings.HasPrefix(s.Baseline.Target, "http://127.0.0.1:") {
		t.Fatalf("no baseline figures:\n%s", out)
	}
	if s.Ratio == nil || s.Ratio.Throughput <= 0 || s.Ratio.P50 <= 0 {
		t.Fatalf("no hub/baseline ratios:\n%s", out)
	}
}

func TestLoadtest_TokensFileRoundTrip(t *testing.T) {
	base, jwt := loadtestHub(t)
	file := filepath.Join(t.TempDir(), "tokens")
	s, err, out := runLoadtest(t, base, jwt, "--mode", "burst", "--proxies", "60", "--tokens", "2", "--tokens-file", file, "--change-fraction", "0.2")
	assertPassed(t, s, err, out)
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("tokens file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(file)
	if n := strings.Count(string(b), "\nphb_"); n != 2 {
		t.Fatalf("tokens file holds %d tokens, want 2:\n%s", n, b)
	}
	if strings.Contains(out, "phb_") {
		t.Errorf("a heartbeat token was printed:\n%s", out)
	}

	// Again from the file: no new tokens, and without a JWT once verification is off.
	s, err, out = runLoadtest(t, base, "", "--mode", "burst", "--proxies", "60", "--tokens-file", file, "--no-verify", "--change-fraction", "0.2")
	if err != nil || !s.Passed || s.ErrorTotal != 0 || s.Tokens != 2 || s.Verify != nil {
		t.Fatalf("run from the tokens file without a JWT: %v\n%s", err, out)
	}
	s, err, out = runLoadtest(t, base, jwt, "--mode", "steady", "--proxies", "60", "--rate", "200", "--duration", "1s", "--tokens-file", file, "--change-fraction", "0.2")
	assertPassed(t, s, err, out)
	code, body := call(t, http.MethodGet, base+"/v1/tenants/loadtest/tokens", jwt, "")
	if toks, _ := body["tokens"].([]any); code != 200 || len(toks) != 2 {
		t.Fatalf("tenant has %d tokens after three runs from one file, want 2 (%d)", len(toks), code)
	}
}

func TestLoadtest_FailuresExit1WithTheSummary(t *testing.T) {
	// The default heartbeat limit (6/1m per token and name) refuses a
	// compressed cron's seventh heartbeat of each proxy: 429s fail the run.
	base, jwt := startHub(t, "PROXYHUB_TRUSTED_PROXIES", "127.0.0.1")
	s, err, out := runLoadtest(t, base, jwt, "--mode", "cron", "--proxies", "20", "--compress", "600", "--rounds", "8")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit code 1:\n%s", err, out)
	}
	if s.Passed || s.Errors["429"] == 0 || s.Verify == nil || !s.Verify.OK {
		t.Fatalf("want 429s reported and the history still verified:\n%s", out)
	}

	// A hub that does not trust this machine ignores X-Forwarded-For: the
	// run stops at once and says what to set.
	base, jwt = startHub(t)
	s, err, out = runLoadtest(t, base, jwt, "--mode", "burst", "--proxies", "50")
	if !errors.As(err, &ee) || ee.code != 1 || s.Passed || !strings.Contains(out, "PROXYHUB_TRUSTED_PROXIES") {
		t.Fatalf("err = %v, want exit 1 naming PROXYHUB_TRUSTED_PROXIES:\n%s", err, out)
	}

	// Nothing listening: exit 1 before any load.
	err = run(context.Background(), []string{"proxyhub-loadtest", "--hub", "http://127.0.0.1:1"}, env("PROXYHUB_LOADTEST_JWT", "x"), io.Discard, io.Discard)
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(ee.msg, "cannot reach the hub") {
		t.Fatalf("unreachable hub: %v", err)
	}
}

func TestLoadtest_HelpDocumentsEveryModeAndSetting(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"proxyhub-loadtest", "--help"}, env(), &out, &out); err != nil {
		t.Fatalf("--help returned %v, want nil", err)
	}
	for _, want := range []string{"steady", "burst", "cron", "--rate", "--compress", "--rounds", "--change-fraction", "--baseline",
		"PROXYHUB_LOADTEST_JWT", "PROXYHUB_LOADTEST_HUB", "http://127.0.0.1:3001", "PROXYHUB_LOADTEST_CONCURRENCY", "256",
		"PROXYHUB_TRUSTED_PROXIES", "PROXYHUB_RATE_HEARTBEAT", "429", "--no-verify"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("proxyhub-loadtest --help lacks %q:\n%s", want, out.String())
		}
	}
	// The table stays aligned whatever the length of the flag and variable
	// names: every row's default starts under DEFAULT.
	col := -1
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "FLAG "):
			col = strings.Index(line, "DEFAULT")
		case strings.HasPrefix(line, "--") && col > 2:
			if len(line) <= col || line[col-2:col] != "  " || line[col] == ' ' {
				t.Errorf("DEFAULT column misaligned at %q", line)
			}
		}
	}
	if col < 0 {
		t.Error("no settings table")
	}
	if !strings.HasPrefix(out.String(), "Usage: proxyhub-loadtest [flags]\n") {
		t.Errorf("--help does not start with the command's usage line:\n%s", out.String())
	}
}

func TestLoadtest_InvalidSettingsExit2NamingTheSetting(t *testing.T) {
	cases := []struct {
		name   string
		getenv func(string) string
		args   []string
		want   string
	}{
		{"bad mode", env(), []string{"--mode", "soak"}, "PROXYHUB_LOADTEST_MODE"},
		{"bad rate in env", env("PROXYHUB_LOADTEST_RATE", "-5"), nil, "PROXYHUB_LOADTEST_RATE"},
		{"fraction above 1", env(), []string{"--change-fraction", "1.5"}, "change-fraction"},
		{"no proxies", env(), []string{"--proxies", "0"}, "PROXYHUB_LOADTEST_PROXIES"},
		{"bad hub URL", env("PROXYHUB_LOADTEST_HUB", "127.0.0.1:3001"), nil, "PROXYHUB_LOADTEST_HUB"},
		{"bad tenant", env(), []string{"--tenant", "Load Test"}, "tenant"},
		{"switch given a stray value", env(), []string{"--xff", "false"}, "unexpected argument"},
		{"hub's variable is not the loadtest's", env("PROXYHUB_RATE", "x", "PROXYHUB_LOADTEST_TIMEOUT", "0s"), nil, "PROXYHUB_LOADTEST_TIMEOUT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), append([]string{"proxyhub-loadtest"}, tc.args...), tc.getenv, io.Discard, io.Discard)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(ee.msg, tc.want) {
				t.Fatalf("err = %v, want exit 2 mentioning %q", err, tc.want)
			}
		})
	}
}
