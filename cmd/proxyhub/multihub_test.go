//go:build linux

package main

// The whole scale-out stack on loopback: one PostgreSQL database, one
// Redis, three `proxyhub serve` processes and HAProxy balancing them
// round-robin, as deploy/compose runs it.
//
// Addresses: HAProxy reaches the hubs from 127.0.0.2 and the hubs trust
// only that address (PROXYHUB_TRUSTED_PROXIES=127.0.0.2). HAProxy sets
// X-Forwarded-For to the client's address, except for clients on
// 127.0.0.1: the load generators, standing in for a trusted edge in front
// of the balancer, pass the simulated proxies' addresses through
// (their X-Forwarded-For is kept as it is). Any other client's header is
// replaced: TestMultiHub checks that a spoofed one is ignored.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/redistest"
)

// haproxyConfig is the balancer of the multi-hub test: round-robin over
// the hubs, health-checked on /healthz every 250 ms (one failure takes a
// hub out), a refused connection retried on another hub.
const haproxyConfig = `global
	maxconn 4096

defaults
	mode http
	timeout connect 1s
	timeout client 30s
	timeout server 30s
	retries 2
	option redispatch 1
	retry-on conn-failure

frontend hubs
	bind %s
	# Clients other than the trusted edge (127.0.0.1) cannot choose the
	# address the hubs see: their X-Forwarded-For is dropped and replaced.
	http-request del-header X-Forwarded-For unless { src 127.0.0.1 }
	option forwardfor if-none
	default_backend hubs

backend hubs
	balance roundrobin
	option httpchk GET /healthz
	http-check expect status 200
	default-server inter 250ms fall 1 rise 2 source 127.0.0.2
%s`

// balancer is HAProxy in front of the hubs.
type balancer struct {
	base string
	cmd  *exec.Cmd
}

// startBalancer runs haproxy over the hubs and waits until it answers
// /healthz through every one of them.
func (f *faultEnv) startBalancer(hubs ...*hubProc) *balancer {
	t := f.t
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		msg := "haproxy is not installed (apt-get install haproxy; .ci/run installs it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	var servers strings.Builder
	for _, h := range hubs {
		fmt.Fprintf(&servers, "\tserver %s %s check\n", h.name, strings.TrimPrefix(h.base, "http://"))
	}
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(haproxyConfig, addr, servers.String())), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	b := &balancer{base: "http://" + addr, cmd: exec.Command(bin, "-db", "-f", cfg)}
	logs := &syncBuffer{}
	b.cmd.Stdout, b.cmd.Stderr = logs, logs
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
		if t.Failed() {
			t.Logf("--- haproxy:\n%s", lastLines(logs.String(), 50))
		}
	})
	// Up when every hub has passed its health checks (rise 2).
	time.Sleep(time.Second)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if code, _ := call(t, http.MethodGet, b.base+"/healthz", "", ""); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy on %s does not answer /healthz:\n%s", addr, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return b
}

// The load tool's binary, built on first use.
var (
	loadBinOnce sync.Once
	loadBinPath string
	loadBinErr  error
)

func loadtestBinary(t *testing.T) string {
	t.Helper()
	dir := filepath.Dir(hubBinary(t)) // removed by TestMain
	loadBinOnce.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		loadBinPath = filepath.Join(dir, "proxyhub-loadtest")
		if out, err := exec.Command(goTool, "build", "-o", loadBinPath, "github.com/proxyhub/proxyhub/cmd/proxyhub-loadtest").CombinedOutput(); err != nil {
			loadBinErr = fmt.Errorf("go build ./cmd/proxyhub-loadtest: %v\n%s", err, out)
		}
	})
	if loadBinErr != nil {
		t.Fatal(loadBinErr)
	}
	return loadBinPath
}

// heartbeatsServed reads proxyhub_heartbeats_total (all outcomes) from a
// hub's /metrics.
func heartbeatsServed(t *testing.T, h *hubProc) float64 {
	t.Helper()
	res, err := http.Get(h.base + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", h.name, err)
	}
	defer res.Body.Close()
	var sum float64
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "proxyhub_heartbeats_total") {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// TestMultiHub: three hubs behind HAProxy on one database and one Redis.
// The load tool's correctness check passes through the balancer; one
// token's budget is one budget across the hubs; an SSE client on one hub
// sees heartbeats sent to another; a spoofed X-Forwarded-For is ignored;
// and when the hub holding the sweeper's lock is killed with SIGKILL
// under load, no acknowledged change is lost, the balancer routes around
// it, and another hub reports offline proxies within 2 s of their
// deadlines.
func TestMultiHub(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three hubs and haproxy")
	}
	f := newFaultEnv(t)
	redisURL := "redis://" + redistest.Addr(t) + "/0"
	settings := []string{
		"PROXYHUB_REDIS_URL", redisURL,
		"PROXYHUB_TRUSTED_PROXIES", "127.0.0.2",
		"PROXYHUB_RATE_HEARTBEAT", "30/1m",
	}
	hubA := f.startHub("hub-a", settings...)
	waitSweeperLeader(t, f.admin()) // A started alone: the sweeper is A's
	hubB := f.startHub("hub-b", settings...)
	hubC := f.startHub("hub-c", settings...)
	hubs := []*hubProc{hubA, hubB, hubC}
	lb := f.startBalancer(hubs...)
	for _, h := range hubs {
		if code, body := call(t, http.MethodGet, h.base+"/readyz", "", ""); code != http.StatusOK || body["rate_limits"] != "shared" {
			t.Fatalf("%s readyz: %d %v, want rate limits shared through Redis", h.name, code, body)
		}
	}

	t.Run("load tool through the balancer", func(t *testing.T) {
		var out, errOut bytes.Buffer
		cmd := exec.Command(loadtestBinary(t), "--hub", lb.base, "--tenant", "fleet", "--proxies", "3000", "--tokens", "30",
			"--mode", "steady", "--rate", "1000", "--duration", "8s", "--concurrency", "64", "--change-fraction", "0.3", "--json")
		cmd.Env = append(os.Environ(), "PROXYHUB_LOADTEST_JWT="+f.platform)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var sum struct {
			Passed        bool             `json:"passed"`
			Requests      int64            `json:"requests"`
			ErrorTotal    int64            `json:"error_total"`
			Errors        map[string]int64 `json:"errors"`
			ThroughputRPS float64          `json:"throughput_rps"`
			Latency       struct {
				P99 float64 `json:"p99"`
			} `json:"latency_ms"`
			Verify *struct {
				Acknowledged int `json:"acknowledged"`
				Recorded     int `json:"recorded"`
				Missing      int `json:"missing"`
			} `json:"verify"`
		}
		if jerr := json.Unmarshal(out.Bytes(), &sum); jerr != nil || err != nil || !sum.Passed {
			t.Fatalf("load tool: %v (%v)\n%s\n%s", err, jerr, out.String(), lastLines(errOut.String(), 20))
		}
		figure(t, "load_heartbeats", sum.Requests)
		figure(t, "load_rate_per_s", sum.ThroughputRPS)
		figure(t, "load_p99_ms", sum.Latency.P99)
		figure(t, "load_errors", sum.ErrorTotal)
		if sum.Verify != nil {
			figure(t, "load_changes_acknowledged", sum.Verify.Acknowledged)
			figure(t, "load_changes_recorded", sum.Verify.Recorded)
			figure(t, "load_changes_lost", sum.Verify.Missing)
		}
		for _, h := range hubs {
			n := heartbeatsServed(t, h)
			figure(t, h.name+"_heartbeats", n)
			if n < float64(sum.Requests)/6 {
				t.Errorf("%s served %v of %d heartbeats: the balancer did not spread them", h.name, n, sum.Requests)
			}
		}
	})

	t.Run("one token one budget across the hubs", func(t *testing.T) {
		const perName, sent = 30, 90 // PROXYHUB_RATE_HEARTBEAT; each hub gets a third
		token := f.setupTenant(hubA.base, "budget", "")
		ok, limited := 0, 0
		for range sent {
			switch a := f.heartbeat(lb.base, token, "edge-1", "198.51.100.1"); a.status {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				limited++
			default:
				t.Fatalf("heartbeat through the balancer: %v %s", a, a.body)
			}
		}
		figure(t, "budget_ok", ok)
		figure(t, "budget_limited", limited)
		// One bucket: perName, plus at most one refill should the minute
		// turn during the test. Per-hub buckets would let all 90 through.
		if ok < perName || ok > 2*perName {
			t.Errorf("%d of %d heartbeats of one token and name accepted across three hubs, want %d (one shared budget of %d a minute)", ok, sent, perName, perName)
		}
	})

	t.Run("spoofed X-Forwarded-For is ignored", func(t *testing.T) {
		token := f.setupTenant(hubA.base, "spoof", "")
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}}).DialContext,
		}}
		req, _ := http.NewRequest(http.MethodGet, lb.base+"/proxy_server?name=edge-1", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-For", "203.0.113.66")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var hb struct {
			RemoteIP string `json:"remote_ip"`
		}
		if err := json.NewDecoder(res.Body).Decode(&hb); err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("heartbeat from 127.0.0.9: %d %v", res.StatusCode, err)
		}
		if hb.RemoteIP != "127.0.0.9" {
			t.Errorf("a client on 127.0.0.9 claiming 203.0.113.66 was recorded as %s, want 127.0.0.9", hb.RemoteIP)
		}
	})

	t.Run("SSE on one hub sees heartbeats sent to another", func(t *testing.T) {
		token := f.setupTenant(hubA.base, "live", "")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hubA.base+"/v1/tenants/live/events/stream", nil)
		req.Header.Set("Authorization", "Bearer "+f.platform)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("stream on hub A: %d", res.StatusCode)
		}
		seen := make(chan time.Time, 1)
		go func() {
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data:") && strings.Contains(sc.Text(), `"sse-probe"`) {
					seen <- time.Now()
					return
				}
			}
		}()
		sent := f.mustBeat(hubC.base, token, "sse-probe", "198.51.100.7").end()
		select {
		case at := <-seen:
			figure(t, "sse_event_across_hubs", at.Sub(sent))
		case <-ctx.Done():
			t.Fatal("hub A's stream never carried the heartbeat sent to hub C")
		}
	})

	t.Run("SIGKILL of the sweeper's hub under load", func(t *testing.T) {
		start := time.Now()
		token := f.setupTenant(hubB.base, "failover", `"offline_after":2`)
		proxies := names("edge", 40)
		f.register(lb.base, token, proxies)
		l := f.startLoad(loadPlan{base: func() string { return lb.base }, token: token, names: proxies, workers: 8, rate: 150, change: 0.5})
		time.Sleep(1500 * time.Millisecond)
		// Proxies that stop now: their deadlines pass 2 s later, after the
		// kill, so the hub that reports them is the one that took over.
		quiet := names("quiet", 10)
		f.register(hubB.base, token, quiet)
		time.Sleep(500 * time.Millisecond)
		l.waitInflight(2, time.Second)
		killedAt := time.Now()
		hubA.kill9()
		deadline, seen := f.waitOffline(hubC.base, "failover", "quiet-", len(quiet))
		time.Sleep(time.Until(killedAt.Add(3 * time.Second)))
		l.stop()
		as, acks := l.results()

		var failed []answer
		lastFailure := killedAt
		for _, x := range startedBetween(as, killedAt, time.Now()) {
			if x.status != http.StatusOK {
				failed = append(failed, x)
				if x.end().After(lastFailure) {
					lastFailure = x.end()
				}
			}
		}
		figure(t, "failover_heartbeats_sent", len(as))
		figure(t, "failover_outcomes", outcomes(as))
		figure(t, "failover_failed_after_kill", len(failed))
		figure(t, "failover_time", lastFailure.Sub(killedAt))
		if d := lastFailure.Sub(killedAt); d > time.Second {
			t.Errorf("heartbeats still failed %v after the kill (%d failures, e.g. %v): the balancer did not route around the dead hub", d, len(failed), failed[len(failed)-1])
		}
		f.verify(hubB.base, "failover", "failover", start, acks)

		figure(t, "failover_kill_before_deadline", deadline.Sub(killedAt))
		if !deadline.After(killedAt) {
			t.Errorf("the quiet proxies' deadline %v came before the kill %v: the test proves no takeover", deadline, killedAt)
		}
		figure(t, "failover_offline_after_deadline", seen.Sub(deadline))
		if d := seen.Sub(deadline); d > 2*time.Second {
			t.Errorf("after the sweeper's hub died, proxies were reported offline %v after their deadline, want within 2s", d)
		}
		if !hubB.logged("proxies_offline") && !hubC.logged("proxies_offline") {
			t.Error("neither surviving hub swept: the flips were not theirs")
		}
	})
}
