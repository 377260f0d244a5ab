// Tests for install.sh and the wrapper it installs. They run the real script with bash into a
// temporary --root, with a PATH that holds only fake crontab, systemctl, hostname, curl, logger
// and sleep commands (written here; they record their argv and stdin) and symlinks to the few
// real tools the scripts use. Nothing outside the temporary directories is touched.
package cron_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	token      = "phb_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
	otherToken = "phb_Zz9Zz9Zz9Zz9Zz9Zz9Zz9Zz9Zz9Zz9Zz9Zz9"
	hub        = "http://hub.example:3001"

	tokenPath   = "etc/proxyhub/token"
	envPath     = "etc/proxyhub/heartbeat.env"
	wrapperPath = "usr/local/bin/proxyhub-heartbeat"
	cronPath    = "etc/cron.d/proxyhub-heartbeat"
	servicePath = "etc/systemd/system/proxyhub-heartbeat.service"
	timerPath   = "etc/systemd/system/proxyhub-heartbeat.timer"

	wantCronD = `SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
* * * * * root /usr/local/bin/proxyhub-heartbeat
`
	crontabLine = "* * * * * /usr/local/bin/proxyhub-heartbeat # proxyhub-heartbeat"
	notRun      = "not run (--root is not /): systemctl daemon-reload && systemctl enable --now proxyhub-heartbeat.timer"
)

// The real tools install.sh and the wrapper need; everything else is a stub or absent.
var realTools = []string{"bash", "cat", "chmod", "dirname", "grep", "mkdir", "mktemp", "mv", "rm", "rmdir", "sed", "uname"}

// Stubs: each records its argv in $STUB_LOG/NAME.log (one call per line) and, for curl, its
// argv one argument per line in curl.argv and its stdin in curl.stdin.
var stubs = map[string]string{
	"crontab": `printf '%s\n' "$*" >>"$STUB_LOG/crontab.log"
case ${1-} in
-l) if [ -n "${FAKE_CRONTAB_FAIL-}" ]; then echo "crontab: cannot open crontab: Permission denied" >&2; exit 1; fi
   if [ -f "$STUB_LOG/crontab.txt" ]; then cat "$STUB_LOG/crontab.txt"; else echo "no crontab for tester" >&2; exit 1; fi ;;
-) cat >"$STUB_LOG/crontab.txt" ;;
*) echo "fake crontab: unexpected $*" >&2; exit 2 ;;
esac
`,
	"systemctl": `printf '%s\n' "$*" >>"$STUB_LOG/systemctl.log"
`,
	"hostname": `printf '%s\n' "$*" >>"$STUB_LOG/hostname.log"
echo "${FAKE_HOSTNAME-proxy-test-01}"
`,
	"curl": `printf '%s\n' "$*" >>"$STUB_LOG/curl.log"
printf '%s\n' "$@" >"$STUB_LOG/curl.argv"
cat >"$STUB_LOG/curl.stdin"
code=${FAKE_CURL_EXIT-0}
if [ "$code" != 0 ]; then echo "curl: ($code) The requested URL returned error: 401" >&2; exit "$code"; fi
out=
prev=
for a in "$@"; do [ "$prev" = -o ] && out=$a; prev=$a; done
if [ -n "$out" ]; then echo '{"success":true}' >"$out"; else echo '{"success":true}'; fi
`,
	"logger": `printf '%s\n' "$*" >>"$STUB_LOG/logger.log"
`,
	"sleep": `printf '%s\n' "$*" >>"$STUB_LOG/sleep.log"
`,
}

type env struct {
	t         *testing.T
	bash      string
	script    string
	root      string // --root
	bin       string // stubs, then symlinks to realTools
	logs      string // $STUB_LOG
	home      string
	tokenFile string // holds token
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) output() string { return r.stdout + r.stderr }

func newEnv(t *testing.T) *env {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed: install.sh cannot run here")
	}
	script, err := filepath.Abs("install.sh")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	e := &env{
		t: t, bash: bash, script: script,
		root: filepath.Join(base, "root"), bin: filepath.Join(base, "bin"),
		logs: filepath.Join(base, "logs"), home: filepath.Join(base, "home"),
		tokenFile: filepath.Join(base, "token.txt"),
	}
	for _, d := range []string{e.root, e.bin, e.logs, e.home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(e.bin, name), []byte("#!"+bash+"\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tool := range realTools {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s is needed by install.sh and not found: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(e.bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	e.write(e.tokenFile, token+"\n", 0o600)
	return e
}

func (e *env) write(path, content string, mode os.FileMode) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mkdir(rel string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Join(e.root, rel), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

// exec runs a program with the test PATH and environment, and checks that no token ever
// appears in what it prints.
func (e *env) exec(stdin string, extraEnv []string, name string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = e.home
	cmd.Env = append([]string{
		"PATH=" + e.bin, "HOME=" + e.home, "STUB_LOG=" + e.logs, "LC_ALL=C",
	}, extraEnv...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	default:
		e.t.Fatalf("running %s: %v", name, err)
	}
	for _, secret := range []string{token, otherToken, token[4:], otherToken[4:]} {
		if strings.Contains(r.output(), secret) {
			e.t.Errorf("%s %q printed a token:\nstdout: %s\nstderr: %s", filepath.Base(name), args, r.stdout, r.stderr)
		}
	}
	return r
}

// install runs install.sh with args and --root.
func (e *env) install(stdin string, extraEnv []string, args ...string) result {
	e.t.Helper()
	return e.exec(stdin, extraEnv, e.bash, append(append([]string{e.script}, args...), "--root", e.root)...)
}

func (e *env) mustInstall(args ...string) result {
	e.t.Helper()
	r := e.install("", nil, args...)
	if r.code != 0 {
		e.t.Fatalf("install.sh %q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

func (e *env) read(rel string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, rel))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func (e *env) exists(rel string) bool {
	_, err := os.Lstat(filepath.Join(e.root, rel))
	return err == nil
}

func (e *env) mode(rel string) fs.FileMode {
	e.t.Helper()
	fi, err := os.Stat(filepath.Join(e.root, rel))
	if err != nil {
		e.t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// calls returns a stub's recorded invocations, one "$*" per entry.
func (e *env) calls(stub string) []string {
	b, err := os.ReadFile(filepath.Join(e.logs, stub+".log"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func (e *env) log(name string) string {
	b, err := os.ReadFile(filepath.Join(e.logs, name))
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// files lists the regular files and symlinks under the root.
func (e *env) files() []string {
	e.t.Helper()
	var out []string
	err := filepath.WalkDir(e.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(e.root, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// envValue returns KEY's value in heartbeat.env.
func (e *env) envValue(key string) string {
	e.t.Helper()
	for line := range strings.Lines(e.read(envPath)) {
		if v, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), key+"="); ok {
			return v
		}
	}
	e.t.Fatalf("%s has no %s line:\n%s", envPath, key, e.read(envPath))
	return ""
}

func (e *env) offset() int {
	e.t.Helper()
	n, err := strconv.Atoi(e.envValue("JITTER"))
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func countLines(s, line string) int {
	n := 0
	for l := range strings.Lines(s) {
		if strings.TrimSuffix(l, "\n") == line {
			n++
		}
	}
	return n
}

func TestTokenConstants(t *testing.T) {
	re := regexp.MustCompile(`^phb_[A-Za-z0-9]{36}$`)
	for _, tok := range []string{token, otherToken} {
		if !re.MatchString(tok) {
			t.Fatalf("test token %q is not a valid heartbeat token", tok)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.exec("", nil, e.bash, e.script, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Usage: install.sh --hub URL") || !strings.Contains(r.stdout, "--token-stdin") {
		t.Fatalf("--help: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if files := e.files(); len(files) != 0 {
		t.Errorf("--help installed %v", files)
	}
}

func TestInstall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(e *env) // dirs in the root, before install
		args      func(e *env) []string
		stdin     string
		wantKind  string // "cron.d", "crontab" or "systemd"
		wantName  string
		wantHub   string
		maxOffset int
	}{
		{
			name:  "cron mode writes /etc/cron.d",
			setup: func(e *env) { e.mkdir("etc/cron.d") },
			args: func(e *env) []string {
				return []string{"--hub", hub, "--token-file", e.tokenFile, "--name", "proxy001", "--mode", "cron"}
			},
			wantKind: "cron.d", wantName: "proxy001", wantHub: hub, maxOffset: 20,
		},
		{
			name:  "crontab mode writes the user's crontab",
			setup: func(e *env) {},
			args: func(e *env) []string {
				return []string{"--hub", hub, "--token-file", e.tokenFile, "--name", "proxy001", "--mode", "crontab", "--jitter", "5"}
			},
			wantKind: "crontab", wantName: "proxy001", wantHub: hub, maxOffset: 5,
		},
		{
			name:  "cron mode creates etc/cron.d in a fresh root",
			setup: func(e *env) {},
			args: func(e *env) []string {
				return []string{"--hub", hub, "--token-file", e.tokenFile, "--name", "proxy001", "--mode", "cron"}
			},
			wantKind: "cron.d", wantName: "proxy001", wantHub: hub, maxOffset: 20,
		},
		{
			name:  "systemd mode writes a service and a timer",
			setup: func(e *env) { e.mkdir("etc/cron.d") },
			args: func(e *env) []string {
				return []string{"--hub", "https://hub.example/base/", "--token-file", e.tokenFile, "--name", "p.1_a-b", "--mode", "systemd", "--jitter", "40"}
			},
			wantKind: "systemd", wantName: "p.1_a-b", wantHub: "https://hub.example/base", maxOffset: 40,
		},
		{
			name:  "auto picks systemd when /run/systemd/system exists",
			setup: func(e *env) { e.mkdir("etc/cron.d"); e.mkdir("run/systemd/system") },
			args: func(e *env) []string {
				return []string{"--hub", hub, "--token-file", e.tokenFile, "--name", "proxy001"}
			},
			wantKind: "systemd", wantName: "proxy001", wantHub: hub, maxOffset: 20,
		},
		{
			name:  "auto picks cron otherwise",
			setup: func(e *env) { e.mkdir("etc/cron.d") },
			args: func(e *env) []string {
				return []string{"--hub", hub, "--token-file", e.tokenFile, "--name", "proxy001"}
			},
			wantKind: "cron.d", wantName: "proxy001", wantHub: hub, maxOffset: 20,
		},
		{
			name:  "token from stdin, name from hostname, --opt=value",
			setup: func(e *env) { e.mkdir("etc/cron.d") },
			args: func(e *env) []string {
				return []string{"--hub=" + hub, "--token-stdin", "--mode=cron", "--jitter=0"}
			},
			stdin:    token + "\n",
			wantKind: "cron.d", wantName: "proxy-test-01", wantHub: hub, maxOffset: 0,
		},
		{
			name: "token file with a CRLF line end",
			setup: func(e *env) {
				e.mkdir("etc/cron.d")
				e.write(e.tokenFile, token+"\r\n", 0o600)
			},
			args: func(e *env) []string {
				return []string{"--hub", "http://[::1]:3001", "--token-file", e.tokenFile, "--name", "proxy001", "--mode", "cron"}
			},
			wantKind: "cron.d", wantName: "proxy001", wantHub: "http://[::1]:3001", maxOffset: 20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tt.setup(e)
			args := tt.args(e)
			r := e.install(tt.stdin, nil, args...)
			if r.code != 0 {
				t.Fatalf("install.sh %q: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
			}

			if got := e.read(tokenPath); got != token+"\n" {
				t.Errorf("token file = %q, want the token and a newline", got)
			}
			if m := e.mode(tokenPath); m != 0o600 {
				t.Errorf("token file mode = %o, want 600", m)
			}
			if m := e.mode("etc/proxyhub"); m != 0o755 {
				t.Errorf("/etc/proxyhub mode = %o, want 755", m)
			}
			if m := e.mode(wrapperPath); m != 0o755 {
				t.Errorf("wrapper mode = %o, want 755", m)
			}
			if w := e.read(wrapperPath); !strings.HasPrefix(w, "#!/usr/bin/env bash\n") || !strings.Contains(w, "-H @-") {
				t.Errorf("wrapper does not look like the heartbeat wrapper:\n%s", w)
			}
			if m := e.mode(envPath); m != 0o644 {
				t.Errorf("heartbeat.env mode = %o, want 644", m)
			}
			if got := e.envValue("HUB"); got != tt.wantHub {
				t.Errorf("HUB = %q, want %q", got, tt.wantHub)
			}
			if got := e.envValue("NAME"); got != tt.wantName {
				t.Errorf("NAME = %q, want %q", got, tt.wantName)
			}
			if off := e.offset(); off < 0 || off > tt.maxOffset {
				t.Errorf("JITTER = %d, want 0..%d", off, tt.maxOffset)
			}

			switch tt.wantKind {
			case "cron.d":
				if got := e.read(cronPath); !strings.HasSuffix(got, wantCronD) {
					t.Errorf("cron.d file:\n%s\nwant it to end with:\n%s", got, wantCronD)
				}
				if m := e.mode(cronPath); m != 0o644 {
					t.Errorf("cron.d file mode = %o, want 644", m)
				}
				if m := e.mode("etc/cron.d"); m != 0o755 {
					t.Errorf("etc/cron.d mode = %o, want 755", m)
				}
				if e.log("crontab.txt") != "" {
					t.Errorf("the user's crontab was written: %q", e.log("crontab.txt"))
				}
			case "crontab":
				if e.exists(cronPath) {
					t.Errorf("%s exists, want the crontab fallback", cronPath)
				}
				if got := e.log("crontab.txt"); got != crontabLine+"\n" {
					t.Errorf("crontab = %q, want %q", got, crontabLine+"\n")
				}
			case "systemd":
				if e.exists(cronPath) || e.log("crontab.txt") != "" {
					t.Errorf("systemd mode also installed a cron entry")
				}
				service := e.read(servicePath)
				for _, want := range []string{"Type=oneshot", "ExecStart=/usr/local/bin/proxyhub-heartbeat",
					"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "ReadOnlyPaths=/etc/proxyhub"} {
					if countLines(service, want) != 1 {
						t.Errorf("service lacks the line %q:\n%s", want, service)
					}
				}
				timer := e.read(timerPath)
				for _, want := range []string{"OnCalendar=*-*-* *:*:00", "AccuracySec=1s", "Persistent=false", "WantedBy=timers.target"} {
					if countLines(timer, want) != 1 {
						t.Errorf("timer lacks the line %q:\n%s", want, timer)
					}
				}
				if m := e.mode(timerPath); m != 0o644 {
					t.Errorf("timer mode = %o, want 644", m)
				}
				if !strings.Contains(r.stdout, notRun) {
					t.Errorf("stdout does not say which systemctl commands were skipped:\n%s", r.stdout)
				}
			}
			if tt.wantKind != "systemd" && (e.exists(servicePath) || e.exists(timerPath)) {
				t.Errorf("cron mode installed systemd units")
			}
			if calls := e.calls("systemctl"); calls != nil {
				t.Errorf("systemctl was called with --root other than /: %q", calls)
			}
			if !strings.Contains(r.stdout, "Manual test: /usr/local/bin/proxyhub-heartbeat --now") {
				t.Errorf("stdout lacks the manual test line:\n%s", r.stdout)
			}
			for _, f := range e.files() {
				if strings.Contains(f, ".proxyhub-heartbeat.") {
					t.Errorf("temporary file left behind: %s", f)
				}
			}
		})
	}
}

func TestInstallRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 101)
	tests := []struct {
		name    string
		setup   func(e *env)
		args    func(e *env) []string
		stdin   string
		env     []string
		wantErr string
	}{
		{name: "no hub", args: func(e *env) []string { return []string{"--token-file", e.tokenFile} }, wantErr: "--hub URL is required"},
		{name: "hub without scheme", args: hubArgs("hub.example:3001"), wantErr: "--hub must be"},
		{name: "ftp hub", args: hubArgs("ftp://hub.example"), wantErr: "--hub must be"},
		{name: "hub with a space", args: hubArgs("http://hub example:3001"), wantErr: "--hub must be"},
		{name: "hub with a quote", args: hubArgs(`http://hub.example"x`), wantErr: "--hub must be"},
		{name: "hub with command substitution", args: hubArgs("http://$(touch /tmp/x)"), wantErr: "--hub must be"},
		{name: "hub with a query", args: hubArgs("http://hub.example/?a=b"), wantErr: "--hub must be"},
		{name: "hub with credentials", args: hubArgs("http://u:p@hub.example"), wantErr: "--hub must be"},
		{name: "token as an option", args: func(e *env) []string { return []string{"--hub", hub, "--token", token} },
			wantErr: "not accepted on the command line"},
		{name: "token as --token=", args: func(e *env) []string { return []string{"--hub", hub, "--token=" + token} },
			wantErr: "not accepted on the command line"},
		{name: "token as a bare argument", args: func(e *env) []string { return []string{"--hub", hub, token} },
			wantErr: "unexpected argument (not shown)"},
		{name: "no token source", args: func(e *env) []string { return []string{"--hub", hub, "--name", "p1"} },
			wantErr: "the token is required"},
		{name: "both token sources", stdin: token + "\n",
			args:    func(e *env) []string { return []string{"--hub", hub, "--token-file", e.tokenFile, "--token-stdin"} },
			wantErr: "not both"},
		{name: "missing token file", args: func(e *env) []string { return []string{"--hub", hub, "--token-file", e.tokenFile + ".nope"} },
			wantErr: "not a readable file"},
		{name: "empty token file", setup: tokenFile(""), args: validArgs, wantErr: "the token is malformed"},
		{name: "token too short", setup: tokenFile(token[:39] + "\n"), args: validArgs, wantErr: "the token is malformed"},
		{name: "token too long", setup: tokenFile(token + "x\n"), args: validArgs, wantErr: "the token is malformed"},
		{name: "token with the wrong prefix", setup: tokenFile("phx_" + token[4:] + "\n"), args: validArgs, wantErr: "the token is malformed"},
		{name: "token with a non-base62 character", setup: tokenFile(token[:39] + "-\n"), args: validArgs, wantErr: "the token is malformed"},
		{name: "token with inner space", setup: tokenFile(token[:20] + " " + token[20:] + "\n"), args: validArgs, wantErr: "the token is malformed"},
		{name: "malformed token on stdin", stdin: token[:30] + "\n",
			args:    func(e *env) []string { return []string{"--hub", hub, "--token-stdin", "--name", "p1"} },
			wantErr: "the token is malformed"},
		{name: "name starting with a dash", args: nameArgs("-bad"), wantErr: "--name must be"},
		{name: "name with a space", args: nameArgs("bad name"), wantErr: "--name must be"},
		{name: "name with a slash", args: nameArgs("a/b"), wantErr: "--name must be"},
		{name: "name with a query character", args: nameArgs("a&b=c"), wantErr: "--name must be"},
		{name: "name of 101 characters", args: nameArgs(long), wantErr: "--name must be"},
		{name: "empty name", args: nameArgs(""), wantErr: "--name must be"},
		{name: "invalid hostname", env: []string{"FAKE_HOSTNAME=-bad_host"},
			args:    func(e *env) []string { return []string{"--hub", hub, "--token-file", e.tokenFile} },
			wantErr: "pass --name NAME"},
		{name: "jitter 90", args: jitterArgs("90"), wantErr: "--jitter must be"},
		{name: "jitter 41", args: jitterArgs("41"), wantErr: "--jitter must be"},
		{name: "negative jitter", args: jitterArgs("-1"), wantErr: "--jitter must be"},
		{name: "jitter not a number", args: jitterArgs("5s"), wantErr: "--jitter must be"},
		{name: "jitter without a value", args: func(e *env) []string { return []string{"--hub", hub, "--token-file", e.tokenFile, "--jitter"} },
			wantErr: "--jitter needs a value"},
		{name: "unknown mode", args: func(e *env) []string { return append(validArgs(e), "--mode", "launchd") }, wantErr: "--mode must be"},
		{name: "unknown option", args: func(e *env) []string { return append(validArgs(e), "--verbose") }, wantErr: "unknown option: --verbose"},
		{name: "no cron.d and no crontab",
			setup: func(e *env) {
				for _, p := range []string{filepath.Join(e.bin, "crontab"), filepath.Join(e.root, "etc/cron.d")} {
					if err := os.Remove(p); err != nil {
						e.t.Fatal(err)
					}
				}
			},
			args:    func(e *env) []string { return append(validArgs(e), "--mode", "crontab") },
			wantErr: "no crontab command"},
		{name: "unreadable crontab is left alone", env: []string{"FAKE_CRONTAB_FAIL=1"},
			setup: func(e *env) {
				if err := os.Remove(filepath.Join(e.root, "etc/cron.d")); err != nil {
					e.t.Fatal(err)
				}
			},
			args:    func(e *env) []string { return append(validArgs(e), "--mode", "crontab") },
			wantErr: "crontab -l failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.mkdir("etc/cron.d")
			if tt.setup != nil {
				tt.setup(e)
			}
			args := tt.args(e)
			r := e.install(tt.stdin, tt.env, args...)
			if r.code == 0 {
				t.Fatalf("install.sh %q succeeded, want an error\nstdout: %s", args, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.wantErr)
			}
			if files := e.files(); len(files) != 0 {
				t.Errorf("a failed install left files: %v", files)
			}
			if calls := e.calls("systemctl"); calls != nil {
				t.Errorf("a failed install called systemctl: %q", calls)
			}
			if calls := e.calls("crontab"); slices.ContainsFunc(calls, func(c string) bool { return c != "-l" }) {
				t.Errorf("a failed install changed the crontab: %q", calls)
			}
			// Whatever was passed as a token, valid or not, is never echoed.
			if tok := strings.TrimSpace(readFile(t, e.tokenFile)); tok != "" && strings.Contains(r.output(), tok) {
				t.Errorf("the token file's content was printed: %s", r.output())
			}
			if s := strings.TrimSpace(tt.stdin); s != "" && strings.Contains(r.output(), s) {
				t.Errorf("the token from stdin was printed: %s", r.output())
			}
		})
	}
}

func validArgs(e *env) []string {
	return []string{"--hub", hub, "--token-file", e.tokenFile, "--name", "p1"}
}

func hubArgs(u string) func(e *env) []string {
	return func(e *env) []string { return []string{"--hub", u, "--token-file", e.tokenFile, "--name", "p1"} }
}

func nameArgs(n string) func(e *env) []string {
	return func(e *env) []string { return []string{"--hub", hub, "--token-file", e.tokenFile, "--name", n} }
}

func jitterArgs(j string) func(e *env) []string {
	return func(e *env) []string { return append(validArgs(e), "--jitter", j) }
}

func tokenFile(content string) func(e *env) {
	return func(e *env) { e.write(e.tokenFile, content, 0o600) }
}

// containsSeq reports whether seq occurs in s as consecutive elements.
func containsSeq(s, seq []string) bool {
	for i := 0; i+len(seq) <= len(s); i++ {
		if slices.Equal(s[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIdempotent(t *testing.T) {
	t.Parallel()

	t.Run("cron.d twice: same file, same offset, new token", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.mkdir("etc/cron.d")
		e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1", "--mode", "cron", "--jitter", "40")
		cron1, off1 := e.read(cronPath), e.offset()
		e.write(e.tokenFile, otherToken+"\n", 0o600)
		e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1", "--mode", "cron", "--jitter", "40")
		if cron2 := e.read(cronPath); cron2 != cron1 || countLines(cron2, "* * * * * root /usr/local/bin/proxyhub-heartbeat") != 1 {
			t.Errorf("second install changed the cron.d file:\n%s\nthen:\n%s", cron1, cron2)
		}
		if off2 := e.offset(); off2 != off1 {
			t.Errorf("offset changed on re-install: %d then %d (one interval would not be 60 s)", off1, off2)
		}
		if got := e.read(tokenPath); got != otherToken+"\n" {
			t.Errorf("token not replaced: %q", got)
		}
		if m := e.mode(tokenPath); m != 0o600 {
			t.Errorf("token mode = %o after re-install", m)
		}
	})

	t.Run("crontab twice: one line, other lines kept", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		const backup = "0 3 * * * /usr/local/bin/backup"
		e.write(filepath.Join(e.logs, "crontab.txt"), backup+"\n", 0o600)
		for range 2 {
			e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1", "--mode", "crontab")
		}
		got := e.log("crontab.txt")
		if countLines(got, crontabLine) != 1 || countLines(got, backup) != 1 || strings.Count(got, "\n") != 2 {
			t.Errorf("crontab after two installs:\n%s", got)
		}
	})

	t.Run("a smaller jitter draws a new offset", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.mkdir("etc/cron.d")
		e.write(filepath.Join(e.root, envPath), "HUB="+hub+"\nNAME=p1\nJITTER=33\n", 0o644)
		e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1", "--mode", "cron", "--jitter", "0")
		if off := e.offset(); off != 0 {
			t.Errorf("offset = %d after --jitter 0, want 0", off)
		}
	})

	t.Run("systemd then cron removes the units", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.mkdir("etc/cron.d")
		e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1", "--mode", "systemd")
		e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1", "--mode", "cron")
		if e.exists(servicePath) || e.exists(timerPath) {
			t.Errorf("units left after switching to cron")
		}
		if !e.exists(cronPath) {
			t.Errorf("no cron.d file after switching to cron")
		}
		e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1", "--mode", "systemd")
		if e.exists(cronPath) {
			t.Errorf("cron.d file left after switching to systemd")
		}
		if calls := e.calls("systemctl"); calls != nil {
			t.Errorf("systemctl called with --root other than /: %q", calls)
		}
	})
}

func TestUninstall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(e *env)
		mode  string
	}{
		{name: "cron.d", setup: func(e *env) { e.mkdir("etc/cron.d") }, mode: "cron"},
		{name: "crontab", setup: func(e *env) {}, mode: "crontab"},
		{name: "systemd", setup: func(e *env) { e.mkdir("etc/cron.d") }, mode: "systemd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			tt.setup(e)
			const backup = "0 3 * * * /usr/local/bin/backup"
			e.write(filepath.Join(e.logs, "crontab.txt"), backup+"\n", 0o600)
			e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1", "--mode", tt.mode)
			if len(e.files()) < 3 {
				t.Fatalf("install installed only %v", e.files())
			}
			for range 2 { // uninstalling twice is fine
				r := e.install("", nil, "--uninstall")
				if r.code != 0 {
					t.Fatalf("--uninstall: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
				}
			}
			if files := e.files(); len(files) != 0 {
				t.Errorf("--uninstall left %v", files)
			}
			if e.exists("etc/proxyhub") {
				t.Errorf("--uninstall left the empty /etc/proxyhub")
			}
			if got := e.log("crontab.txt"); got != backup+"\n" {
				t.Errorf("crontab after --uninstall = %q, want only the unrelated line", got)
			}
			if calls := e.calls("systemctl"); calls != nil {
				t.Errorf("systemctl called with --root other than /: %q", calls)
			}
		})
	}

	t.Run("keeps other files in /etc/proxyhub", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.mkdir("etc/cron.d")
		e.write(filepath.Join(e.root, "etc/proxyhub/hub.env"), "PROXYHUB_ADDR=:3001\n", 0o644)
		e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1", "--mode", "cron")
		e.mustInstall("--uninstall")
		if files := e.files(); !slices.Equal(files, []string{"etc/proxyhub/hub.env"}) {
			t.Errorf("after --uninstall: %v, want only etc/proxyhub/hub.env", files)
		}
	})
}

// TestWrapper runs the installed /usr/local/bin/proxyhub-heartbeat against the fake curl.
func TestWrapper(t *testing.T) {
	t.Parallel()
	const (
		wantURL = "https://hub.example:3001/base/proxy_server?name=proxy-7.example_a"
		header  = "Authorization: Bearer " + token + "\n"
	)
	setup := func(t *testing.T) (*env, []string) {
		e := newEnv(t)
		e.mkdir("etc/cron.d")
		e.mustInstall("--hub", "https://hub.example:3001/base", "--token-file", e.tokenFile,
			"--name", "proxy-7.example_a", "--mode", "cron", "--jitter", "40")
		return e, []string{"PROXYHUB_HEARTBEAT_CONF_DIR=" + filepath.Join(e.root, "etc/proxyhub")}
	}
	wrapper := func(e *env) string { return filepath.Join(e.root, wrapperPath) }
	checkCurl := func(t *testing.T, e *env, extra ...[]string) {
		t.Helper()
		if got := e.log("curl.stdin"); got != header {
			t.Errorf("curl's stdin = %q, want %q", got, header)
		}
		argv := strings.Split(strings.TrimSuffix(e.log("curl.argv"), "\n"), "\n")
		for _, a := range argv {
			if strings.Contains(a, token[4:]) {
				t.Errorf("the token is in curl's argv: %q", argv)
			}
		}
		if argv[len(argv)-1] != wantURL {
			t.Errorf("curl's URL = %q, want %q (argv %q)", argv[len(argv)-1], wantURL, argv)
		}
		if argv[0] != "-q" {
			t.Errorf("curl's first argument = %q, want -q (ignore ~/.curlrc)", argv[0])
		}
		want := append([][]string{{"-fsS"}, {"-m", "10"}, {"--retry", "3"}, {"--retry-max-time", "40"}, {"-H", "@-"}}, extra...)
		for _, seq := range want {
			if !containsSeq(argv, seq) {
				t.Errorf("curl's argv %q lacks %q", argv, seq)
			}
		}
	}

	t.Run("--now sends at once and prints the answer", func(t *testing.T) {
		t.Parallel()
		e, conf := setup(t)
		r := e.exec("", conf, wrapper(e), "--now")
		if r.code != 0 {
			t.Fatalf("wrapper --now: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		checkCurl(t, e)
		if !strings.Contains(r.stdout, `{"success":true}`) {
			t.Errorf("stdout = %q, want the hub's answer", r.stdout)
		}
		if calls := e.calls("sleep"); calls != nil {
			t.Errorf("--now slept: %q", calls)
		}
	})

	t.Run("a scheduled run sleeps its fixed offset and prints nothing", func(t *testing.T) {
		t.Parallel()
		e, conf := setup(t)
		r := e.exec("", conf, wrapper(e))
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Fatalf("wrapper: exit %d\nstdout: %q\nstderr: %q", r.code, r.stdout, r.stderr)
		}
		checkCurl(t, e, []string{"-o", "/dev/null"})
		if calls, want := e.calls("sleep"), []string{strconv.Itoa(e.offset())}; !slices.Equal(calls, want) {
			t.Errorf("sleep calls = %q, want %q", calls, want)
		}
		if calls := e.calls("logger"); calls != nil {
			t.Errorf("a successful heartbeat logged: %q", calls)
		}
	})

	t.Run("a failed heartbeat goes to syslog, without the token", func(t *testing.T) {
		t.Parallel()
		e, conf := setup(t)
		r := e.exec("", append(conf, "FAKE_CURL_EXIT=22"), wrapper(e))
		if r.code == 0 {
			t.Fatalf("wrapper succeeded although curl failed")
		}
		logs := strings.Join(e.calls("logger"), "\n")
		if !strings.Contains(logs, "-t proxyhub-heartbeat") || !strings.Contains(logs, "curl exit 22") || !strings.Contains(logs, wantURL) {
			t.Errorf("logger calls = %q, want the failure", logs)
		}
		if strings.Contains(logs, token[4:]) {
			t.Errorf("the token was logged: %q", logs)
		}
		if r.stderr != "" {
			t.Errorf("stderr = %q, want nothing when logger exists (cron would mail it)", r.stderr)
		}
	})

	t.Run("without logger a failure goes to stderr", func(t *testing.T) {
		t.Parallel()
		e, conf := setup(t)
		if err := os.Remove(filepath.Join(e.bin, "logger")); err != nil {
			t.Fatal(err)
		}
		r := e.exec("", append(conf, "FAKE_CURL_EXIT=22"), wrapper(e), "--now")
		if r.code == 0 || !strings.Contains(r.stderr, "curl exit 22") {
			t.Fatalf("wrapper: exit %d, stderr %q; want a failure on stderr", r.code, r.stderr)
		}
	})

	t.Run("a malformed token file is refused before curl runs", func(t *testing.T) {
		t.Parallel()
		e, conf := setup(t)
		bad := token[:30] + "!?\n"
		e.write(filepath.Join(e.root, tokenPath), bad, 0o600)
		r := e.exec("", conf, wrapper(e), "--now")
		if r.code == 0 || e.calls("curl") != nil {
			t.Fatalf("wrapper: exit %d, curl calls %q; want a refusal", r.code, e.calls("curl"))
		}
		if strings.Contains(r.output()+strings.Join(e.calls("logger"), ""), token[4:30]) {
			t.Errorf("the malformed token was printed")
		}
	})

	t.Run("heartbeat.env is parsed, never executed", func(t *testing.T) {
		t.Parallel()
		e, conf := setup(t)
		pwned := filepath.Join(e.home, "pwned")
		e.write(filepath.Join(e.root, envPath), "HUB=http://x$(cat>"+pwned+")\nNAME=p1\nJITTER=0\n", 0o644)
		r := e.exec("", conf, wrapper(e), "--now")
		if r.code == 0 || e.calls("curl") != nil {
			t.Fatalf("wrapper accepted a bad HUB: exit %d", r.code)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Errorf("a command in heartbeat.env was executed")
		}
	})
}

// TestTokenNeverPrinted: install.sh's output in every mode, on success and on failure.
// (exec also checks every run of every test.)
func TestTokenNeverPrinted(t *testing.T) {
	t.Parallel()
	runs := [][]string{
		{"--mode", "cron"},
		{"--mode", "systemd"},
		{"--mode", "cron", "--jitter", "99"},
		{"--mode", "cron", "--name", "-x"},
		{"--mode", "cron", "--hub", "ftp://x"},
		{"--uninstall"},
	}
	for _, extra := range runs {
		e := newEnv(t)
		e.mkdir("etc/cron.d")
		args := append([]string{"--hub", hub, "--token-file", e.tokenFile, "--name", "p1"}, extra...)
		r := e.install("", nil, args...)
		if strings.Contains(r.output(), token[4:]) {
			t.Errorf("install.sh %q printed the token:\n%s", args, r.output())
		}
		r = e.install(token+"\n", nil, append([]string{"--hub", hub, "--token-stdin", "--name", "p1"}, extra...)...)
		if strings.Contains(r.output(), token[4:]) {
			t.Errorf("install.sh --token-stdin %q printed the token:\n%s", extra, r.output())
		}
	}
}

// TestShellcheck lints install.sh and the wrapper it writes, where shellcheck is installed.
func TestShellcheck(t *testing.T) {
	t.Parallel()
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not installed")
	}
	e := newEnv(t)
	e.mkdir("etc/cron.d")
	e.mustInstall("--hub", hub, "--token-file", e.tokenFile, "--name", "p1")
	out, err := exec.CommandContext(t.Context(), sc, e.script, filepath.Join(e.root, wrapperPath)).CombinedOutput()
	if err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
