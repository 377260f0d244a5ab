package main

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// The built binary names the commit it was built from and the Go release.
func TestVersion_NamesTheCommitItWasBuiltFrom(t *testing.T) {
	bin := hubBinary(t) // go build -buildvcs=auto from this checkout
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("proxyhub version: %v", err)
	}
	line := strings.TrimSpace(string(out))
	if !strings.HasPrefix(line, "proxyhub ") || !strings.HasSuffix(line, runtime.Version()) {
		t.Fatalf("proxyhub version printed %q", line)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("no git checkout to compare with: %v", err)
	}
	if !strings.Contains(line, "commit "+strings.TrimSpace(string(head))) {
		t.Fatalf("proxyhub version printed %q, want the commit %s", line, head)
	}
	if err := exec.Command(bin, "version", "extra").Run(); err == nil {
		t.Fatal("proxyhub version with an argument succeeded")
	}
}
