//go:build linux

package main

// Helpers of the fault-injection tests (faults_test.go): hubs run as
// processes of the built binary, so that they can be killed with SIGKILL,
// frozen with SIGSTOP and stopped with SIGTERM like the real thing; a TCP
// proxy in front of PostgreSQL that can stop forwarding (a stalled
// database or network); a paced heartbeat load that records every answer
// and every acknowledged IP change; and the check of those changes
// against the audit history.
//
// The tests need Linux (signals, process groups); elsewhere this file and
// faults_test.go are not built.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/proxyhub/proxyhub/internal/loadtest"
	"github.com/proxyhub/proxyhub/internal/pgtest"
)

// The proxyhub binary the fault tests run, built on first use (so that
// the package's other tests do not pay for it) and removed by TestMain.
var (
	hubBinOnce sync.Once
	hubBinDir  string
	hubBinPath string
	hubBinErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if hubBinDir != "" {
		_ = os.RemoveAll(hubBinDir)
	}
	os.Exit(code)
}

// hubBinary builds ./cmd/proxyhub (without the race detector: it is the
// system under test, not the test) and returns its path.
func hubBinary(t *testing.T) string {
	t.Helper()
	hubBinOnce.Do(func() {
		hubBinDir, hubBinErr = os.MkdirTemp("", "proxyhub-faults-")
		if hubBinErr != nil {
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		hubBinPath = filepath.Join(hubBinDir, "proxyhub")
		out, err := exec.Command(goTool, "build", "-buildvcs=auto", "-o", hubBinPath, "github.com/proxyhub/proxyhub/cmd/proxyhub").CombinedOutput()
		if err != nil {
			hubBinErr = fmt.Errorf("go build ./cmd/proxyhub: %v\n%s", err, out)
		}
	})
	if hubBinErr != nil {
		t.Fatal(hubBinErr)
	}
	return hubBinPath
}

// figure logs one measured figure in the form the closing notes quote:
// "figure: name=value" (durations to the millisecond).
func figure(t *testing.T, name string, v any) {
	t.Helper()
	switch d := v.(type) {
	case time.Duration:
		v = d.Round(time.Millisecond)
	case float64:
		v = fmt.Sprintf("%.3f", d)
	}
	t.Logf("figure: %s=%v", name, v)
}

// faultEnv is one fault test's world: its own database, a signing key, a
// platform JWT, and the hubs, proxies and loads it starts.
type faultEnv struct {
	t        *testing.T
	bin      string
	dbURL    string // the database, as the ordinary role the hubs use
	adminURL string // the same database as the server's superuser
	keyFile  string
	platform string
	client   *http.Client
}

func newFaultEnv(t *testing.T) *faultEnv {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the fault tests need Linux")
	}
	dbURL := pgtest.URL(t)
	f := &faultEnv{t: t, bin: hubBinary(t), dbURL: dbURL, adminURL: pgtest.AdminURL(t, dbURL)}
	f.keyFile = filepath.Join(t.TempDir(), "hub.key")
	if err := run(t.Context(), []string{"proxyhub", "keygen", "--out", f.keyFile}, env(), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	f.platform = f.jwt("--role", "platform")
	// Generous: what the tests measure is bounded by the hub, never by
	// this timeout.
	f.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
	}}
	t.Cleanup(f.client.CloseIdleConnections)
	return f
}

// jwt mints an admin JWT with the env's signing key (`proxyhub jwt`).
func (f *faultEnv) jwt(args ...string) string {
	var out strings.Builder
	if err := run(f.t.Context(), append([]string{"proxyhub", "jwt", "--signing-key-file", f.keyFile}, args...), env(), &out, io.Discard); err != nil {
		f.t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

// hubURL returns the database URL a hub named name connects with: its
// sessions carry application_name=name (pg_stat_activity tells the hubs
// apart), and a small pool keeps several hubs within the shared server's
// connection limit. via, if not empty, is the host:port to connect through
// instead of the server's own (a tcpProxy).
func (f *faultEnv) hubURL(name, via string) string {
	u, err := url.Parse(f.dbURL)
	if err != nil {
		f.t.Fatal(err)
	}
	if via != "" {
		u.Host = via
	}
	q := u.Query()
	q.Set("application_name", name)
	q.Set("pool_max_conns", "10")
	u.RawQuery = q.Encode()
	return u.String()
}

// hubProc is a hub running as a process of the built binary.
type hubProc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	logs   *syncBuffer
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited
	// Set before exited is closed.
	waitErr error
	exitAt  time.Time
}

// startHub starts `proxyhub serve` named name on the env's database, on a
// free port of 127.0.0.1, with JSON logs, trusting X-Forwarded-For from
// loopback and rate limits out of the way; kv (NAME, value, …) adds or
// overrides PROXYHUB_ settings. It returns once the hub listens. At the
// end of the test the process is killed (SIGCONT first, should it be
// frozen); when the test failed, its log is printed.
func (f *faultEnv) startHub(name string, kv ...string) *hubProc {
	t := f.t
	t.Helper()
	h := &hubProc{t: t, name: name, logs: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	h.cmd = exec.Command(f.bin, "serve")
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PROXYHUB_") {
			h.cmd.Env = append(h.cmd.Env, e)
		}
	}
	h.cmd.Env = append(h.cmd.Env,
		"PROXYHUB_DATABASE_URL="+f.hubURL(name, ""),
		"PROXYHUB_SIGNING_KEY_FILE="+f.keyFile,
		"PROXYHUB_TRUSTED_PROXIES=127.0.0.1",
		"PROXYHUB_ADDR=127.0.0.1:0",
		"PROXYHUB_LOG_FORMAT=json",
		"PROXYHUB_RATE_HEARTBEAT=100000/1m", "PROXYHUB_RATE_HEARTBEAT_TOKEN=off",
		"PROXYHUB_RATE_ADMIN=100000/1m",
	)
	for i := 0; i+1 < len(kv); i += 2 {
		h.cmd.Env = append(h.cmd.Env, kv[i]+"="+kv[i+1]) // the last of duplicates wins
	}
	h.cmd.Stdout, h.cmd.Stderr = h.logs, h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := h.cmd.Wait()
		h.waitErr, h.exitAt = err, time.Now()
		close(h.exited)
	}()
	t.Cleanup(func() {
		if h.running() {
			_ = h.cmd.Process.Signal(syscall.SIGCONT)
			_ = h.cmd.Process.Kill()
			<-h.exited
		}
		if t.Failed() {
			t.Logf("--- hub %s: standard error:\n%s\n--- hub %s: log (last 150 lines):\n%s", h.name, h.stderr, h.name, lastLines(h.logs.String(), 150))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for h.base == "" {
		select {
		case <-h.exited:
			t.Fatalf("hub %s ended before listening: %v\n%s\n%s", name, h.waitErr, h.logs, h.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub %s did not log its address within 30s:\n%s\n%s", name, h.logs, h.stderr)
		}
		sc := bufio.NewScanner(strings.NewReader(h.logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				h.base = "http://" + line.Addr
			}
		}
	}
	return h
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (h *hubProc) running() bool {
	select {
	case <-h.exited:
		return false
	default:
		return true
	}
}

func (h *hubProc) signal(sig syscall.Signal) {
	h.t.Helper()
	if err := h.cmd.Process.Signal(sig); err != nil {
		h.t.Fatalf("signal %v to hub %s: %v", sig, h.name, err)
	}
}

// kill9 kills the hub with SIGKILL and waits until it is gone.
func (h *hubProc) kill9() {
	h.t.Helper()
	h.signal(syscall.SIGKILL)
	<-h.exited
}

// waitExit waits up to limit for the process to exit and returns when it
// did (the zero time if it did not).
func (h *hubProc) waitExit(limit time.Duration) time.Time {
	select {
	case <-h.exited:
		return h.exitAt
	case <-time.After(limit):
		return time.Time{}
	}
}

// logged reports whether a line of the hub's JSON log has message msg.
func (h *hubProc) logged(msg string) bool {
	return strings.Contains(h.logs.String(), `"msg":"`+msg+`"`)
}

// loggedWithin reports whether the hub logs msg within d: a hub writes
// its log line after the commit that others may already see.
func (h *hubProc) loggedWithin(msg string, d time.Duration) bool {
	for end := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if h.logged(msg) {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// setupTenant creates tenant id (body: the JSON fields besides the id,
// e.g. `"offline_after":2`) and a heartbeat token, through hub base, and
// returns the token.
func (f *faultEnv) setupTenant(base, id, fields string) string {
	f.t.Helper()
	body := `{"id":"` + id + `"`
	if fields != "" {
		body += "," + fields
	}
	body += "}"
	if code, b := call(f.t, http.MethodPost, base+"/v1/tenants", f.platform, body); code != http.StatusCreated {
		f.t.Fatalf("create tenant %s: %d %v", id, code, b)
	}
	code, b := call(f.t, http.MethodPost, base+"/v1/tenants/"+id+"/tokens", f.platform, `{"label":"cron"}`)
	if code != http.StatusCreated {
		f.t.Fatalf("create token: %d %v", code, b)
	}
	return b["token"].(string)
}

// answer is one heartbeat and what became of it.
type answer struct {
	name, ip    string
	start       time.Time
	took        time.Duration
	status      int   // 0: no answer
	err         error // transport error (no answer)
	contentType string
	retryAfter  string
	requestID   string
	changed     bool
	previousIP  string
	remoteIP    string
	body        string
}

func (a answer) end() time.Time { return a.start.Add(a.took) }

func (a answer) String() string {
	if a.err != nil {
		return fmt.Sprintf("%s from %s: no answer after %v: %v", a.name, a.ip, a.took.Round(time.Millisecond), a.err)
	}
	return fmt.Sprintf("%s from %s: %d after %v", a.name, a.ip, a.status, a.took.Round(time.Millisecond))
}

// ack returns the IP change a 200 answer acknowledged, if it did.
func (a answer) ack() (loadtest.Ack, bool) {
	if a.status != http.StatusOK || !a.changed {
		return loadtest.Ack{}, false
	}
	return loadtest.Ack{RequestID: a.requestID, Proxy: a.name, OldIP: a.previousIP, NewIP: a.remoteIP}, true
}

// heartbeat sends one heartbeat of proxy name from ip (X-Forwarded-For)
// to hub base. It never fails the test: a missing answer is part of the
// answer.
func (f *faultEnv) heartbeat(base, token, name, ip string) answer {
	a := answer{name: name, ip: ip, start: time.Now()}
	req, err := http.NewRequest(http.MethodGet, base+"/proxy_server?name="+url.QueryEscape(name), nil)
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Forwarded-For", ip)
	res, err := f.client.Do(req)
	if err != nil {
		a.took, a.err = time.Since(a.start), err
		return a
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	a.took = time.Since(a.start)
	if err != nil {
		a.err = fmt.Errorf("reading the answer (%d): %w", res.StatusCode, err)
		return a
	}
	a.status, a.body = res.StatusCode, string(b)
	a.contentType, a.retryAfter, a.requestID = res.Header.Get("Content-Type"), res.Header.Get("Retry-After"), res.Header.Get("X-Request-Id")
	if a.status == http.StatusOK {
		var hb struct {
			IPChanged  bool   `json:"ip_changed"`
			PreviousIP string `json:"previous_ip"`
			RemoteIP   string `json:"remote_ip"`
		}
		if err := json.Unmarshal(b, &hb); err != nil {
			a.err = fmt.Errorf("200 answer is not a heartbeat result: %v: %s", err, b)
			return a
		}
		a.changed, a.previousIP, a.remoteIP = hb.IPChanged, hb.PreviousIP, hb.RemoteIP
	}
	return a
}

// mustBeat sends a heartbeat that must be answered 200.
func (f *faultEnv) mustBeat(base, token, name, ip string) answer {
	f.t.Helper()
	a := f.heartbeat(base, token, name, ip)
	if a.status != http.StatusOK {
		f.t.Fatalf("heartbeat %v: %s", a, a.body)
	}
	return a
}

// proxyIP is the n-th address of a simulated proxy: every proxy starts at
// n = 0 and moves to n+1 when its IP changes.
func proxyIP(n int) string { return fmt.Sprintf("198.18.%d.%d", n/250%250, n%250+1) }

// register makes each name a proxy of the token's tenant, at proxyIP(0).
func (f *faultEnv) register(base, token string, names []string) {
	f.t.Helper()
	for _, n := range names {
		f.mustBeat(base, token, n, proxyIP(0))
	}
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

// loadPlan is a paced heartbeat load.
type loadPlan struct {
	base    func() string // the hub to send each heartbeat to
	token   string
	names   []string // proxies, all registered at proxyIP(0)
	workers int      // each owns names[i] for i%workers == its number
	rate    float64  // heartbeats per second, all workers together
	change  float64  // probability that a heartbeat moves its proxy to a new IP
}

// load runs a loadPlan until stop, recording every answer.
type load struct {
	f        *faultEnv
	stopped  chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	answers  []answer
	inflight atomic.Int64 // heartbeats sent and not answered yet
}

func (f *faultEnv) startLoad(p loadPlan) *load {
	l := &load{f: f, stopped: make(chan struct{})}
	interval := time.Duration(float64(p.workers) / p.rate * float64(time.Second))
	for w := range p.workers {
		var mine []string
		for i, n := range p.names {
			if i%p.workers == w {
				mine = append(mine, n)
			}
		}
		l.wg.Go(func() {
			ips := make([]int, len(mine)) // each proxy's current address, as last sent
			next := time.Now().Add(time.Duration(rand.Int64N(int64(interval))))
			for i := 0; ; i = (i + 1) % len(mine) {
				select {
				case <-l.stopped:
					return
				case <-time.After(time.Until(next)):
				}
				if next = next.Add(interval); time.Until(next) < -interval {
					next = time.Now() // fell behind (a stalled hub): no burst to catch up
				}
				if rand.Float64() < p.change {
					ips[i]++
				}
				l.inflight.Add(1)
				a := f.heartbeat(p.base(), p.token, mine[i], proxyIP(ips[i]))
				l.inflight.Add(-1)
				a.body = "" // not kept: thousands of them
				l.mu.Lock()
				l.answers = append(l.answers, a)
				l.mu.Unlock()
			}
		})
	}
	return l
}

// waitInflight waits up to limit until at least n heartbeats are in
// flight, and reports whether they were.
func (l *load) waitInflight(n int64, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		if l.inflight.Load() >= n {
			return true
		}
		time.Sleep(200 * time.Microsecond)
	}
	return false
}

// stop ends the load and waits for the heartbeats in flight.
func (l *load) stop() {
	select {
	case <-l.stopped:
	default:
		close(l.stopped)
	}
	l.wg.Wait()
}

// results returns the answers so far and the IP changes they acknowledged.
func (l *load) results() ([]answer, []loadtest.Ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	as := slices.Clone(l.answers)
	return as, acksOf(as)
}

// acksOf returns the IP changes answers acknowledged.
func acksOf(as []answer) []loadtest.Ack {
	var acks []loadtest.Ack
	for _, a := range as {
		if k, ok := a.ack(); ok {
			acks = append(acks, k)
		}
	}
	return acks
}

// outcomes counts answers by status ("200", "503", "no answer").
func outcomes(as []answer) map[string]int {
	m := map[string]int{}
	for _, a := range as {
		if a.err != nil || a.status == 0 {
			m["no answer"]++
		} else {
			m[fmt.Sprint(a.status)]++
		}
	}
	return m
}

// latencies returns the median and the maximum time to answer of as (answered or not).
func latencies(as []answer) (p50, maxTook time.Duration) {
	if len(as) == 0 {
		return 0, 0
	}
	ds := make([]time.Duration, len(as))
	for i, a := range as {
		ds[i] = a.took
	}
	slices.Sort(ds)
	return ds[len(ds)/2], ds[len(ds)-1]
}

// startedBetween returns the answers to heartbeats sent in [from, to).
func startedBetween(as []answer, from, to time.Time) []answer {
	var out []answer
	for _, a := range as {
		if !a.start.Before(from) && a.start.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// verify checks acks against tenant's IP-change history, read through hub
// base with the platform JWT, fails the test for every acknowledged change
// that is missing, duplicated or different, and logs the figures under
// label. Changes recorded but never acknowledged (the hub died or gave up
// before answering) are allowed, and counted.
func (f *faultEnv) verify(base, tenant, label string, since time.Time, acks []loadtest.Ack) loadtest.Verification {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/v1/tenants/"+tenant+"/ip-changes.ndjson", nil)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.platform)
	res, err := f.client.Do(req)
	if err != nil {
		f.t.Fatalf("read the history of %s: %v", tenant, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		f.t.Fatalf("read the history of %s: %d %s", tenant, res.StatusCode, b)
	}
	v := loadtest.Verifier{Start: since}.Verify(acks, res.Body)
	figure(f.t, label+"_changes_acknowledged", v.Acknowledged)
	figure(f.t, label+"_changes_recorded", v.Recorded)
	figure(f.t, label+"_changes_recorded_unacknowledged", v.Unacknowledged)
	if v.Error != "" || v.Missing > 0 || v.Duplicated > 0 || v.Mismatched > 0 || v.Recorded != v.Acknowledged {
		f.t.Errorf("%s: acknowledged changes not in the history exactly once: missing %d, duplicated %d, mismatched %d, error %q; %v",
			label, v.Missing, v.Duplicated, v.Mismatched, v.Error, v.Details)
	}
	return v
}

// admin connects to the env's database as the superuser.
func (f *faultEnv) admin() *pgx.Conn {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.adminURL)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// tcpProxy forwards TCP connections to a target (PostgreSQL) and can stop
// forwarding without closing anything: Pause holds every byte in both
// directions, on the connections open and on those made meanwhile, as a
// stalled server or network would; Resume delivers them.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	gate   chan struct{} // closed while forwarding
	conns  map[net.Conn]struct{}
	closed bool
	done   chan struct{}
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, gate: make(chan struct{}), conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	close(p.gate)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// newPGProxy returns a tcpProxy in front of the env's database server.
func (f *faultEnv) newPGProxy() *tcpProxy {
	u, err := url.Parse(f.dbURL)
	if err != nil {
		f.t.Fatal(err)
	}
	return newTCPProxy(f.t, u.Host)
}

func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
		p.gate = make(chan struct{})
	default: // already paused
	}
}

func (p *tcpProxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

// Close stops accepting and closes every connection.
func (p *tcpProxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	close(p.done)
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	_ = p.ln.Close()
}

// wait blocks while the proxy is paused; false: it was closed.
func (p *tcpProxy) wait() bool {
	p.mu.Lock()
	g := p.gate
	p.mu.Unlock()
	select {
	case <-g:
		return true
	case <-p.done:
		return false
	}
}

func (p *tcpProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *tcpProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
			if err != nil {
				_ = c.Close()
				return
			}
			if !p.track(c, s) {
				return
			}
			go p.pipe(c, s)
			go p.pipe(s, c)
		}()
	}
}

// pipe copies src to dst, holding the data while paused; when either
// side ends, both are closed.
func (p *tcpProxy) pipe(src, dst net.Conn) {
	defer func() {
		_ = src.Close()
		_ = dst.Close()
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		if !p.wait() {
			return
		}
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
