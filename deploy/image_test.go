//go:build linux

// Package deploy holds the hub's deployment kit: the container image
// (Dockerfile), the compose stack (compose/), the Kubernetes manifests
// (kubernetes/), the systemd unit (systemd/) and the proxies' heartbeat
// installer (cron/). Its tests check what can be checked without a
// container runtime or a cluster.
package deploy

import (
	"debug/elf"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imageUID is the unprivileged user the image runs as (Dockerfile USER).
const imageUID = 65532

// dockerfile returns the Dockerfile's instructions, one per entry, with
// continuation lines joined and comments dropped.
func dockerfile(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, cur.String())
		cur.Reset()
	}
	return out
}

// TestDockerfile_ScratchNonRootNoHealthcheck: the final stage is an empty
// base with the static binary, an unprivileged user and no HEALTHCHECK.
func TestDockerfile_ScratchNonRootNoHealthcheck(t *testing.T) {
	ins := dockerfile(t)
	var final []string // the instructions of the last stage
	stages := 0
	for _, in := range ins {
		if strings.HasPrefix(strings.ToUpper(in), "FROM ") {
			stages++
			final = nil
		}
		final = append(final, in)
	}
	if stages < 2 {
		t.Fatalf("%d stages, want a build stage and a runtime stage", stages)
	}
	if f := strings.Fields(final[0]); len(f) < 2 || (f[1] != "scratch" && !strings.HasPrefix(f[1], "gcr.io/distroless/static")) {
		t.Errorf("runtime base %q, want scratch or distroless/static", final[0])
	}
	var user, entry string
	for _, in := range final {
		kw, rest, _ := strings.Cut(in, " ")
		switch strings.ToUpper(kw) {
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entry = rest
		case "HEALTHCHECK":
			t.Errorf("HEALTHCHECK in the image: orchestrators probe /healthz and /readyz")
		case "RUN":
			t.Errorf("RUN in the runtime stage %q: scratch has no shell", in)
		}
	}
	if user != fmt.Sprintf("%d:%d", imageUID, imageUID) {
		t.Errorf("USER %q, want %d:%d", user, imageUID, imageUID)
	}
	if entry != `["/proxyhub"]` {
		t.Errorf("ENTRYPOINT %s, want [\"/proxyhub\"]", entry)
	}
	var builds bool
	for _, in := range ins {
		builds = builds || strings.HasPrefix(in, "RUN make static ")
	}
	if !builds {
		t.Error("the build stage does not build with `make static` (what TestImage_BinaryRunsInAnEmptyRootAsNonRoot checks)")
	}
}

// TestImage_BinaryRunsInAnEmptyRootAsNonRoot builds the binary as the
// image's build stage does (make static), checks that it is static, then
// runs it in a root holding nothing else, as the image's user: `proxyhub
// version` names the commit, and `proxyhub serve` on the embedded store
// in /data answers /healthz.
func TestImage_BinaryRunsInAnEmptyRootAsNonRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the static binary")
	}
	root := t.TempDir()
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "proxyhub")
	build := exec.Command("make", "-C", "..", "static", "OUT="+bin, "VERSION=v0.0.0-imagetest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make static: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary needs a dynamic loader: it cannot run on scratch")
		}
	}
	f.Close()

	if os.Geteuid() != 0 {
		t.Skip("running the binary in an empty root needs chroot (root)")
	}
	data := filepath.Join(root, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, imageUID, imageUID); err != nil {
		t.Fatal(err)
	}
	inRoot := func(args ...string) *exec.Cmd {
		c := exec.Command("/proxyhub", args...)
		c.Path = "/proxyhub"
		c.Dir = "/"
		c.Env = []string{"PROXYHUB_DATA_DIR=/data", "PROXYHUB_LOG_FORMAT=json"}
		c.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: imageUID, Gid: imageUID}}
		return c
	}
	out, err := inRoot("version").CombinedOutput()
	if err != nil {
		t.Fatalf("proxyhub version in the empty root: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "proxyhub v0.0.0-imagetest commit ") {
		t.Errorf("proxyhub version: %q, want the version and the commit", out)
	}
	if head, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil && !strings.Contains(string(out), strings.TrimSpace(string(head))) {
		t.Errorf("proxyhub version %q does not name the checkout's commit %s", out, head)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	serve := inRoot("serve", "--addr", addr)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = serve.Process.Kill(); _ = serve.Wait() })
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		res, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxyhub serve in the empty root, as uid %d, is not ready after 20s: %v", imageUID, err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "proxyhub.db")); err != nil {
		t.Errorf("the embedded store is not in /data: %v", err)
	}
}
