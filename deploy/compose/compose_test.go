// Package compose holds the compose stack of three hubs behind HAProxy;
// its tests validate the file against the Compose specification (the
// compose-go loader that docker compose itself uses) and check the
// HAProxy configuration with haproxy -c.
package compose

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func load(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"}, cli.WithWorkingDirectory("."), cli.WithDiscardEnvFile,
		cli.WithEnv(nil), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	return p
}

// TestCompose_ValidStackOfThreeHubsBehindHAProxy: the file is valid
// Compose, and the stack is what the README promises: three hubs built
// from deploy/Dockerfile, read-only and without capabilities, on
// PostgreSQL as the application role and on Redis, after a one-shot
// migration; the signing key and passwords as secrets; only HAProxy
// published, and the hubs trusting X-Forwarded-For from HAProxy's address
// alone.
func TestCompose_ValidStackOfThreeHubsBehindHAProxy(t *testing.T) {
	p := load(t)
	lb, err := p.GetService("haproxy")
	if err != nil {
		t.Fatal(err)
	}
	lbAddr := lb.Networks["backend"].Ipv4Address
	if lbAddr == "" || len(lb.Ports) != 1 || lb.Ports[0].Target != 3001 {
		t.Fatalf("haproxy: address %q, ports %+v; want a fixed address and port 3001 published", lbAddr, lb.Ports)
	}
	migrate, err := p.GetService("migrate")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(migrate.Command, types.ShellCommand{"migrate"}) || migrate.Environment["PROXYHUB_APP_PASSWORD_FILE"] == nil {
		t.Errorf("migrate: command %v, env %v", migrate.Command, migrate.Environment)
	}
	var hubs []string
	for name, s := range p.Services {
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile" || name == "migrate" {
			continue
		}
		hubs = append(hubs, name)
		env := func(k string) string {
			if v := s.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		if got := env("PROXYHUB_TRUSTED_PROXIES"); got != lbAddr+"/32" {
			t.Errorf("%s trusts %q, want haproxy's %s/32 only", name, got, lbAddr)
		}
		if !strings.Contains(env("PROXYHUB_DATABASE_URL"), "proxyhub_app@") || env("PROXYHUB_REDIS_URL") == "" {
			t.Errorf("%s: database %q (want the application role), redis %q", name, env("PROXYHUB_DATABASE_URL"), env("PROXYHUB_REDIS_URL"))
		}
		if env("PROXYHUB_SIGNING_KEY_FILE") != "/run/secrets/signing_key" || !slices.ContainsFunc(s.Secrets, func(r types.ServiceSecretConfig) bool { return r.Source == "signing_key" }) {
			t.Errorf("%s does not read the signing key from its compose secret", name)
		}
		if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || len(s.Ports) != 0 {
			t.Errorf("%s: read_only %v, cap_drop %v, ports %v; want read-only, no capabilities, not published", name, s.ReadOnly, s.CapDrop, s.Ports)
		}
		if d, ok := s.DependsOn["migrate"]; !ok || d.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s does not wait for the migration to complete", name)
		}
		if !slices.Contains(lb.GetDependencies(), name) {
			t.Errorf("haproxy does not depend on %s", name)
		}
	}
	slices.Sort(hubs)
	if !slices.Equal(hubs, []string{"hub-a", "hub-b", "hub-c"}) {
		t.Errorf("hubs %v, want hub-a, hub-b, hub-c", hubs)
	}
	for _, name := range []string{"signing_key", "postgres_password", "app_password", "pgpass"} {
		if sec, ok := p.Secrets[name]; !ok || !strings.Contains(sec.File, "/secrets/") {
			t.Errorf("secret %s: %+v, want a file in ./secrets", name, sec)
		}
	}
	cfg, err := os.ReadFile("haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hubs {
		if !strings.Contains(string(cfg), "server "+h+" "+h+":3001 check") {
			t.Errorf("haproxy.cfg does not balance over %s", h)
		}
	}
}

// TestCompose_HAProxyConfigIsValid: haproxy -c accepts the stack's
// configuration, which replaces any X-Forwarded-For a client sends.
func TestCompose_HAProxyConfigIsValid(t *testing.T) {
	cfg, err := os.ReadFile("haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "http-request del-header X-Forwarded-For\n") || !strings.Contains(string(cfg), "option forwardfor\n") {
		t.Error("haproxy.cfg does not replace the client's X-Forwarded-For with its address")
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		msg := "haproxy is not installed (apt-get install haproxy; .ci/run installs it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if out, err := exec.Command(bin, "-c", "-f", "haproxy.cfg").CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
}
