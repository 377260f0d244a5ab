// Package systemd holds the hub's systemd unit and its system user; the
// test rates the unit's sandbox as `systemd-analyze security` does.
package systemd

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest exposure `systemd-analyze security` may give
// the unit: 2.0 and below is rated "OK".
const maxExposure = 2.0

func TestUnit_SandboxRatedOK(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		msg := "systemd-analyze is not installed (Debian package systemd)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out, err := exec.Command(bin, "security", "--offline=true", "--no-pager", "proxyhub.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for proxyhub\.service: ([0-9.]+) (\w+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure in:\n%s", out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("figure: systemd_exposure=%.1f (%s)", score, m[2])
	if score > maxExposure {
		t.Errorf("exposure %.1f %s, want <= %.1f:\n%s", score, m[2], maxExposure, out)
	}
}

// TestUnit_RunsAsTheSysusersUser: the unit runs as the dedicated user that
// proxyhub.sysusers.conf creates (so that a 0600 key owned by that user
// is readable), never as a dynamic user or root.
func TestUnit_RunsAsTheSysusersUser(t *testing.T) {
	unit := settings(t, "proxyhub.service")
	sysusers, err := os.ReadFile("proxyhub.sysusers.conf")
	if err != nil {
		t.Fatal(err)
	}
	var user string
	for _, line := range strings.Split(string(sysusers), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "u" {
			user = f[1]
		}
	}
	if user == "" || user == "root" {
		t.Fatalf("sysusers file creates no dedicated user: %q", sysusers)
	}
	for key, want := range map[string]string{"User": user, "Group": user, "DynamicUser": "", "UMask": "0077", "StateDirectory": "proxyhub"} {
		if got := unit[key]; got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	if !strings.Contains(unit["Environment"], "PROXYHUB_DATA_DIR=/var/lib/proxyhub") {
		t.Errorf("the embedded store's data is not in the state directory: Environment=%q", unit["Environment"])
	}
}

// settings returns the unit's last value of each key.
func settings(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}
