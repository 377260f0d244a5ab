package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// buildHub builds ./cmd/proxyhub into a temporary directory and returns
// the binary's path.
func buildHub(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "proxyhub")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// hubProcess is `proxyhub serve` running as a process of its own.
type hubProcess struct {
	cmd    *exec.Cmd
	base   string
	stdout *syncBuffer
	exited chan struct{}
}

// startHubProcess starts bin serve on a free port of 127.0.0.1 on the data
// directory dir and waits until it listens; it is killed at cleanup.
func startHubProcess(t *testing.T, bin, dir string) *hubProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "PROXYHUB_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, "PROXYHUB_TRUSTED_PROXIES=127.0.0.1", "PROXYHUB_RATE_HEARTBEAT=100000/1m", "PROXYHUB_RATE_HEARTBEAT_TOKEN=off")
	h := &hubProcess{cmd: cmd, stdout: &syncBuffer{}, exited: make(chan struct{})}
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = h.stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(h.exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-h.exited })
	for deadline := time.Now().Add(30 * time.Second); h.base == ""; {
		select {
		case <-h.exited:
			t.Fatalf("the hub exited at start-up:\n%s%s", h.stdout, stderr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hub did not listen within 30 s:\n%s%s", h.stdout, stderr)
		}
		sc := bufio.NewScanner(strings.NewReader(h.stdout.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				h.base = "http://" + line.Addr
			}
		}
	}
	return h
}

// kill ends the hub with SIGKILL: no shutdown, no flush, no checkpoint.
func (h *hubProcess) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-h.exited
}

// change is an IP change a hub acknowledged.
type change struct{ proxy, oldIP, newIP string }

// TestKill9_LosesNoAcknowledgedIPChange: heartbeats that change their
// proxies' IPs pour in from concurrent clients; the hub is killed with
// SIGKILL in the middle of it and restarted on the same data directory.
// Every change it acknowledged (200 with ip_changed true) is in the
// history after the restart.
func TestKill9_LosesNoAcknowledgedIPChange(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a hub process")
	}
	bin := buildHub(t)
	dir := t.TempDir()
	h := startHubProcess(t, bin, dir)
	var jwt strings.Builder
	if err := run(t.Context(), []string{"proxyhub", "jwt", "--signing-key-file", filepath.Join(dir, "signing.key"), "--role", "platform"}, env(), &jwt, os.Stderr); err != nil {
		t.Fatal(err)
	}
	platform := strings.TrimSpace(jwt.String())
	if code, body := call(t, http.MethodPost, h.base+"/v1/tenants", platform, `{"id":"acme"}`); code != http.StatusCreated {
		t.Fatalf("create tenant: %d %v", code, body)
	}
	_, tok := call(t, http.MethodPost, h.base+"/v1/tenants/acme/tokens", platform, `{"label":"fleet"}`)
	token := tok["token"].(string)

	const workers, proxiesEach = 16, 4
	var (
		mu      sync.Mutex
		acked   []change
		last    = map[string]string{} // proxy → IP of its last acknowledged heartbeat
		pending = map[string]string{} // proxy → IP of a heartbeat cut by the kill
		sent    atomic.Int64
		stopped atomic.Bool
		wg      sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for w := range workers {
		wg.Go(func() {
			for i := 0; !stopped.Load(); i++ {
				// Each proxy's IP changes every other heartbeat: the others
				// are steady-state heartbeats (the store's heartbeat log).
				name := fmt.Sprintf("edge-%02d-%d", w, i%proxiesEach)
				ip := fmt.Sprintf("198.51.%d.%d", i/(2*proxiesEach)%200, w+1)
				req, _ := http.NewRequest(http.MethodGet, h.base+"/proxy_server?name="+name, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("X-Forwarded-For", ip)
				sent.Add(1)
				res, err := client.Do(req)
				if err != nil { // the hub is gone; this one may or may not have been written
					mu.Lock()
					pending[name] = ip
					mu.Unlock()
					return
				}
				var body struct {
					IPChanged  bool   `json:"ip_changed"`
					PreviousIP string `json:"previous_ip"`
					RemoteIP   string `json:"remote_ip"`
				}
				derr := json.NewDecoder(res.Body).Decode(&body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK && derr == nil {
					mu.Lock()
					last[name] = body.RemoteIP
					if body.IPChanged {
						acked = append(acked, change{name, body.PreviousIP, body.RemoteIP})
					}
					mu.Unlock()
				}
			}
		})
	}
	// Kill once the load runs: changes are being acknowledged.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 2000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d IP changes acknowledged in 30 s", n)
		}
	}
	h.kill(t)
	stopped.Store(true)
	wg.Wait()

	start := time.Now()
	h = startHubProcess(t, bin, dir)
	restart := time.Since(start)
	recorded := map[change]int{}
	for _, c := range ipChanges(t, h.base, platform, "acme") {
		recorded[change{c["proxy"].(string), c["old_ip"].(string), c["new_ip"].(string)}]++
	}
	lost := 0
	for _, c := range acked {
		if recorded[c] == 0 {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged change %+v is not in the history after the restart", c)
			}
		}
	}
	t.Logf("kill -9 under load: %d heartbeats sent, %d IP changes acknowledged, %d recorded after the restart (%d acknowledged ones missing); restart took %v",
		sent.Load(), len(acked), len(recorded), lost, restart.Round(time.Millisecond))
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged IP changes were lost", lost, len(acked))
	}
	// Every proxy has the IP of its last acknowledged heartbeat (or of the
	// one the kill cut, which may have been written).
	_, st := call(t, http.MethodGet, h.base+"/v1/tenants/acme/proxies?limit=500", platform, "")
	ps, _ := st["proxies"].([]any)
	if len(ps) != workers*proxiesEach {
		t.Fatalf("%d proxies after the restart, want %d", len(ps), workers*proxiesEach)
	}
	for _, p := range ps {
		p := p.(map[string]any)
		name, ip := p["name"].(string), p["remote_ip"].(string)
		if ip != last[name] && ip != pending[name] {
			t.Errorf("%s has IP %s after the restart; its last acknowledged heartbeat came from %s", name, ip, last[name])
		}
	}
}
