package policy

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePolicies writes files (name → Rego source) into a new directory.
func writePolicies(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const customHeartbeat = `package proxyhub.heartbeat

decision := {"allow": false, "reason": "maintenance"}
`

const customAdmin = `package proxyhub.admin

decision := {"allow": true, "hidden": false, "reason": "anything goes"}
`

func TestNew_DirReplacesTheEmbeddedPolicies(t *testing.T) {
	dir := writePolicies(t, map[string]string{
		"heartbeat.rego": customHeartbeat,
		"sub/admin.rego": customAdmin,
		// Tests are never loaded by the engine: this one would not even parse.
		"admin_test.rego": "package proxyhub.admin_test\n\ntest_x if {",
		"README.md":       "not Rego",
	})
	e, err := New(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Heartbeat(t.Context(), HeartbeatInput{TenantID: "t", IP: netip.MustParseAddr("192.0.2.1")})
	if err != nil || d != (Decision{Reason: "maintenance"}) {
		t.Errorf("Heartbeat: got %+v, %v; want the custom policy's refusal", d, err)
	}
	// The embedded policy hides other tenants; this one allows everything.
	if err := e.Authorize(t.Context(), ownerOf("acme"), ProxyDelete, Resource{TenantID: "globex"}); err != nil {
		t.Errorf("Authorize: got %v, want the custom policy's allow", err)
	}
}

func TestNew_CompileErrorsQuoteTheCompiler(t *testing.T) {
	tests := []struct {
		name  string
		admin string
		want  []string
	}{
		{
			name:  "parse error",
			admin: "package proxyhub.admin\n\ndecision := {\"allow\": true if {\n",
			want:  []string{"admin.rego:3:", "rego_parse_error"},
		},
		{
			name:  "unsafe variable",
			admin: "package proxyhub.admin\n\ndecision := x if {\n\ty := 1\n}\n",
			want:  []string{"admin.rego:3:", "rego_unsafe_var_error", "var x is unsafe"},
		},
		{
			name:  "not Rego v1",
			admin: "package proxyhub.admin\n\ndecision = x { x := 1 }\n",
			want:  []string{"admin.rego:3:", "rego_parse_error"},
		},
		{
			name:  "http.send",
			admin: "package proxyhub.admin\n\ndecision := http.send({\"method\": \"get\", \"url\": \"http://169.254.169.254/\"}).body\n",
			want:  []string{"admin.rego:3:", "http.send"},
		},
		{
			name:  "net.lookup_ip_addr",
			admin: "package proxyhub.admin\n\ndecision := net.lookup_ip_addr(\"example.com\")\n",
			want:  []string{"admin.rego:3:", "net.lookup_ip_addr"},
		},
		{
			name:  "opa.runtime",
			admin: "package proxyhub.admin\n\ndecision := opa.runtime().env\n",
			want:  []string{"admin.rego:3:", "opa.runtime"},
		},
		{
			name:  "trace",
			admin: "package proxyhub.admin\n\ndecision := true if trace(\"x\")\n",
			want:  []string{"admin.rego:3:", "trace"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writePolicies(t, map[string]string{"heartbeat.rego": customHeartbeat, "admin.rego": tt.admin})
			_, err := New(t.Context(), Options{Dir: dir})
			if err == nil {
				t.Fatal("New succeeded, want a compile error")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, "admin.rego")) {
				t.Errorf("error %q does not name the file %s", err, filepath.Join(dir, "admin.rego"))
			}
		})
	}
}

func TestNew_MissingDecisionIsAnError(t *testing.T) {
	dir := writePolicies(t, map[string]string{"heartbeat.rego": customHeartbeat})
	_, err := New(t.Context(), Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "data.proxyhub.admin.decision") {
		t.Errorf("got %v, want an error naming data.proxyhub.admin.decision", err)
	}
}

func TestNew_BadDirIsAnError(t *testing.T) {
	file := filepath.Join(writePolicies(t, map[string]string{"x.rego": customAdmin}), "x.rego")
	for name, dir := range map[string]string{
		"missing":   filepath.Join(t.TempDir(), "nope"),
		"empty":     t.TempDir(),
		"not a dir": file,
	} {
		if _, err := New(t.Context(), Options{Dir: dir}); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// TestEngine_MalformedDecisionsAreErrors: a custom policy whose decision is
// undefined or has the wrong shape is a failure to decide, not an allow.
func TestEngine_MalformedDecisionsAreErrors(t *testing.T) {
	dir := writePolicies(t, map[string]string{
		"heartbeat.rego": "package proxyhub.heartbeat\n\ndecision := {\"allow\": true, \"reason\": \"ok\"} if input.ip == \"192.0.2.1\"\n",
		"admin.rego":     "package proxyhub.admin\n\ndecision := \"yes\"\n",
	})
	e, err := New(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Heartbeat(t.Context(), HeartbeatInput{IP: netip.MustParseAddr("192.0.2.2")}); err == nil {
		t.Error("Heartbeat: an undefined decision gave no error")
	}
	if d, err := e.Heartbeat(t.Context(), HeartbeatInput{IP: netip.MustParseAddr("192.0.2.1")}); err != nil || !d.Allow {
		t.Errorf("Heartbeat: got %+v, %v", d, err)
	}
	err = e.Authorize(t.Context(), ownerOf("acme"), TenantRead, Resource{TenantID: "acme"})
	if err == nil || errors.Is(err, ErrForbidden) || errors.Is(err, ErrHidden) {
		t.Errorf("Authorize: got %v, want a failure to decide", err)
	}
}
