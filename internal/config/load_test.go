package config

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestCommandLoad(t *testing.T) {
	var name string
	var verbose, dry bool
	cmd := Command{Name: "tool", Summary: "Do things.", EnvPrefix: "TOOL_", Settings: []Setting{
		{Name: "user-name", Default: "anon", Usage: "who", Parse: func(v string) error {
			if v == "" {
				return errors.New("required")
			}
			name = v
			return nil
		}},
		{Name: "verbose", Default: "false", Usage: "talk", Switch: true, Parse: func(v string) (err error) {
			verbose, err = strconv.ParseBool(v)
			return err
		}},
		{Name: "dry-run", Default: "false", Usage: "pretend", NoEnv: true, Switch: true, Parse: func(v string) (err error) {
			dry, err = strconv.ParseBool(v)
			return err
		}},
	}}
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}

	for _, tc := range []struct {
		args          []string
		getenv        func(string) string
		name          string
		verbose, dry  bool
		wantErrSubstr string
	}{
		{args: nil, getenv: env(), name: "anon"},
		{args: nil, getenv: env("TOOL_USER_NAME", "ann", "TOOL_VERBOSE", "true", "TOOL_DRY_RUN", "true"), name: "ann", verbose: true},
		{args: []string{"--user-name", "bob"}, getenv: env("TOOL_USER_NAME", "ann"), name: "bob"},
		{args: []string{"--verbose", "-dry-run", "--user-name", "cy"}, getenv: env(), name: "cy", verbose: true, dry: true},
		{args: []string{"--verbose=false"}, getenv: env("TOOL_VERBOSE", "1"), name: "anon"},
		{args: []string{"--user-name", " "}, getenv: env(), wantErrSubstr: "invalid setting --user-name (TOOL_USER_NAME): required"},
		{args: []string{"--dry-run=maybe"}, getenv: env(), wantErrSubstr: "invalid setting --dry-run: "},
		{args: []string{"--", "--verbose"}, getenv: env(), wantErrSubstr: `unexpected argument "--verbose"`},
	} {
		name, verbose, dry = "", false, false
		err := cmd.Load(tc.args, tc.getenv, io.Discard)
		if tc.wantErrSubstr != "" {
			var ce *Error
			if err == nil || !strings.Contains(err.Error(), tc.wantErrSubstr) {
				t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.wantErrSubstr)
			} else if strings.HasPrefix(tc.wantErrSubstr, "invalid") && !errors.As(err, &ce) {
				t.Errorf("%q: error %T, want *Error", tc.args, err)
			}
			continue
		}
		if err != nil || name != tc.name || verbose != tc.verbose || dry != tc.dry {
			t.Errorf("%q: got %q %v %v, %v; want %q %v %v", tc.args, name, verbose, dry, err, tc.name, tc.verbose, tc.dry)
		}
	}

	var help strings.Builder
	if err := cmd.Load([]string{"--help"}, env(), &help); !errors.Is(err, ErrHelp) {
		t.Fatalf("--help: %v, want ErrHelp", err)
	}
	for _, want := range []string{"Usage: tool [flags]\n\nDo things.\n", "--user-name", "TOOL_USER_NAME", "anon", "--dry-run"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, help.String())
		}
	}
	if strings.Contains(help.String(), "TOOL_DRY_RUN") {
		t.Errorf("help names a variable for a NoEnv setting:\n%s", help.String())
	}
}

func TestCommandLoad_ShortRepeatAndPositional(t *testing.T) {
	var (
		output string
		cidrs  []string
		watch  bool
		args   []string
	)
	cmd := Command{Name: "tool create", Summary: "Make one.", EnvPrefix: "TOOL_", Args: "ID", Settings: []Setting{
		{Name: "output", Short: "o", NoEnv: true, Default: "table", Usage: "format", Parse: func(v string) error {
			output = v
			return nil
		}},
		{Name: "cidr", Repeat: true, Default: "", Usage: "network", Parse: func(v string) error {
			cidrs = nil
			if v != "" {
				cidrs = strings.Split(v, ",")
			}
			return nil
		}},
		{Name: "watch", Short: "w", NoEnv: true, Switch: true, Default: "false", Usage: "again", Parse: func(v string) (err error) {
			watch, err = strconv.ParseBool(v)
			return err
		}},
	}, ParseArgs: func(a []string) error {
		if len(a) > 1 {
			return errors.New("one ID at most")
		}
		args = a
		return nil
	}}
	env := func(k string) string {
		if k == "TOOL_CIDR" {
			return "192.0.2.0/24,198.51.100.0/24"
		}
		return ""
	}
	for _, tc := range []struct {
		args    []string
		getenv  func(string) string
		output  string
		cidrs   []string
		watch   bool
		pos     []string
		wantErr string
	}{
		{args: []string{"acme"}, getenv: env, output: "table", cidrs: []string{"192.0.2.0/24", "198.51.100.0/24"}, pos: []string{"acme"}},
		{args: []string{"acme", "-o", "json", "--cidr", "10.0.0.0/8", "-w", "--cidr=10.1.0.0/16"}, getenv: env,
			output: "json", cidrs: []string{"10.0.0.0/8", "10.1.0.0/16"}, watch: true, pos: []string{"acme"}},
		{args: []string{"--output=csv", "acme", "--watch=false"}, getenv: func(string) string { return "" }, output: "csv", pos: []string{"acme"}},
		{args: []string{"-o", "json", "--", "-acme"}, getenv: env, output: "json", cidrs: []string{"192.0.2.0/24", "198.51.100.0/24"}, pos: []string{"-acme"}},
		{args: nil, getenv: env, output: "table", cidrs: []string{"192.0.2.0/24", "198.51.100.0/24"}},
		{args: []string{"a", "b"}, getenv: env, wantErr: "one ID at most"},
		{args: []string{"a", "--nope"}, getenv: env, wantErr: "flag provided but not defined: -nope"},
	} {
		output, cidrs, watch, args = "", nil, false, nil
		err := cmd.Load(tc.args, tc.getenv, io.Discard)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil || output != tc.output || strings.Join(cidrs, " ") != strings.Join(tc.cidrs, " ") || watch != tc.watch || strings.Join(args, " ") != strings.Join(tc.pos, " ") {
			t.Errorf("%q: got %q %q %v %q, %v; want %q %q %v %q", tc.args, output, cidrs, watch, args, err, tc.output, tc.cidrs, tc.watch, tc.pos)
		}
	}

	var help strings.Builder
	if err := cmd.Load([]string{"-h"}, env, &help); !errors.Is(err, ErrHelp) {
		t.Fatalf("-h: %v, want ErrHelp", err)
	}
	for _, want := range []string{"Usage: tool create [flags] ID\n", "-o, --output", "--cidr (repeatable)", "TOOL_CIDR", "-w, --watch"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, help.String())
		}
	}
}

// A stray argument that may be a secret is never echoed in the error.
func TestLoad_StrayCredentialIsNotEchoed(t *testing.T) {
	for _, arg := range []string{"phb_Zk3n9QpX2vLmR7tYw4bH8cJ1dF6gS0aE5uN2oP", "phc_4fG7hJ2kL9mN3pQ8:phs_Qw8eR4tY7uI2oP5aS9dF3gH6jK1lZ0xC4vB7nM", "eyJhbGciOiJFZERTQSJ9.e30.sig", strings.Repeat("x", 80)} {
		c := Command{Name: "x"}
		err := c.Load([]string{arg}, func(string) string { return "" }, io.Discard)
		if err == nil || strings.Contains(err.Error(), arg) {
			t.Errorf("error %v echoes %q", err, arg)
		}
	}
}

func TestLoadMigrate_AppPasswordFromAFile(t *testing.T) {
	dir := t.TempDir()
	secret := dir + "/app_password"
	if err := os.WriteFile(secret, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := dir + "/empty"
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"file", map[string]string{"PROXYHUB_DATABASE_URL": "postgres://x", "PROXYHUB_APP_PASSWORD_FILE": secret}, "s3cret-from-file", ""},
		{"variable", map[string]string{"PROXYHUB_DATABASE_URL": "postgres://x", "PROXYHUB_APP_PASSWORD": "from-env"}, "from-env", ""},
		{"missing file", map[string]string{"PROXYHUB_DATABASE_URL": "postgres://x", "PROXYHUB_APP_PASSWORD_FILE": dir + "/nope"}, "", "app-password-file"},
		{"empty file", map[string]string{"PROXYHUB_DATABASE_URL": "postgres://x", "PROXYHUB_APP_PASSWORD_FILE": empty}, "", "first line is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadMigrate(nil, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one about %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil || c.AppPassword != tc.want {
				t.Fatalf("AppPassword %q, err %v; want %q", c.AppPassword, err, tc.want)
			}
		})
	}
}
