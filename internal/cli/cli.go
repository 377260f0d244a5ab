// Package cli is the admin side of the proxyhub binary: the commands a team
// admin runs from a laptop (tenants, tokens, status, history). Every one
// talks to a hub through the Go SDK (api/client), never raw HTTP, and
// reads its connection from --url/PROXYHUB_URL and --token/PROXYHUB_TOKEN.
//
// Layout: this file is the command table and the runner every command goes
// through (settings, client, error reporting); conn.go is the connection
// and the credential; report.go prints errors; output.go renders tables,
// JSON and CSV; timefmt.go reads and writes times; one file per command
// group.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/proxyhub/proxyhub/api/client"
	"github.com/proxyhub/proxyhub/internal/config"
)

// Env is what a command reads and writes besides its arguments.
type Env struct {
	// Getenv reads the environment (PROXYHUB_URL, PROXYHUB_TOKEN,
	// PROXYHUB_TENANT).
	Getenv func(string) string
	// Stdout receives what the command prints; Stderr errors and notes.
	Stdout, Stderr io.Writer
	// Now is the clock for "3m ago" and for durations such as --since 24h;
	// nil is time.Now.
	Now func() time.Time
	// Terminal reports whether w is a terminal, where status --watch
	// clears the screen before each refresh; nil checks for a character
	// device.
	Terminal func(w io.Writer) bool
}

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

func (e *Env) terminal(w io.Writer) bool {
	if e.Terminal != nil {
		return e.Terminal(w)
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Command is one admin command: the word after "proxyhub", a one-line
// summary for the usage text, and what it does with the arguments after
// its name. Run returns nil or an *ExitError.
type Command struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, env *Env, args []string) error
}

// Commands returns the admin commands in the order the usage text lists
// them.
func Commands() []Command {
	return []Command{
		group("tenants", "list or create tenants (platform admins)",
			leafCommand("list", "list every tenant", tenantsList),
			leafCommand("create", "create a tenant: tenants create ID [--name N --offline-after 80 --max-proxies N]", tenantsCreate)),
		group("tokens", "create, list or revoke a tenant's heartbeat tokens",
			leafCommand("create", "create a heartbeat token and print its secret (shown once)", tokensCreate),
			leafCommand("list", "list the tenant's heartbeat tokens", tokensList),
			leafCommand("revoke", "revoke a heartbeat token: tokens revoke ID", tokensRevoke)),
		{Name: "status", Summary: "show a tenant's proxies, offline first (--watch to keep refreshing)", Run: status},
		{Name: "history", Summary: "show or export a tenant's IP-change history", Run: history},
	}
}

// ExitError is a command that failed. Code is the exit status: 1 when the
// hub refused or could not be reached (already reported on Stderr), 2 for
// bad usage, whose Msg is still to be printed.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Msg
}

func usage(format string, a ...any) error {
	return &ExitError{Code: 2, Msg: fmt.Sprintf(format, a...)}
}

// reported is the outcome of an error already printed to Stderr.
func reported() error { return &ExitError{Code: 1} }

// leafCommand is a subcommand of a group.
func leafCommand(name, summary string, run func(ctx context.Context, env *Env, args []string) error) Command {
	return Command{Name: name, Summary: summary, Run: run}
}

// group is a command whose first argument names one of subs.
func group(name, summary string, subs ...Command) Command {
	help := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: proxyhub %s COMMAND [flags]\n\n%s.\n\nCommands:\n", name, upperFirst(summary))
		for _, s := range subs {
			fmt.Fprintf(w, "  %-7s %s\n", s.Name, s.Summary)
		}
		fmt.Fprintf(w, "\nRun 'proxyhub %s COMMAND --help' for a command's flags.\n", name)
	}
	return Command{Name: name, Summary: summary, Run: func(ctx context.Context, env *Env, args []string) error {
		if len(args) == 0 {
			help(env.Stderr)
			return usage("%s: which command? (%s)", name, subNames(subs))
		}
		switch args[0] {
		case "-h", "--help", "help":
			help(env.Stdout)
			return nil
		}
		for _, s := range subs {
			if s.Name == args[0] {
				return s.Run(ctx, env, args[1:])
			}
		}
		help(env.Stderr)
		return usage("unknown command %q", name+" "+args[0])
	}}
}

func subNames(subs []Command) string {
	s := ""
	for i, c := range subs {
		if i > 0 {
			s += ", "
		}
		s += c.Name
	}
	return s
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// spec describes one leaf command for run: its settings besides the
// connection, the tenant and the output format, and what it does.
type spec struct {
	name    string // after "proxyhub", e.g. "tokens create"
	summary string // help text
	args    string // positional arguments in the usage line, e.g. "ID"
	// tenant adds --tenant (PROXYHUB_TENANT), which is then required.
	tenant bool
	// formats are what -o accepts, the first being the default; none
	// means the command has no -o.
	formats []format
	// settings are the command's own flags.
	settings []config.Setting
	// parseArgs receives the positional arguments; nil refuses any.
	parseArgs func(args []string) error
	// do runs the command.
	do func(ctx context.Context, c *call) error
}

// call is one run of a leaf command: its environment, parsed settings and
// the SDK client.
type call struct {
	*Env
	conn   conn
	tenant string
	format format
	hub    *client.Hub
}

// report prints err to Stderr with the credential scrubbed.
func (c *call) report(err error) {
	report(c.Stderr, err, c.conn.scrub)
}

// run parses the settings of s from args and the environment, connects and
// runs s.do. Usage errors come back as *ExitError with code 2, everything
// else is reported on Stderr (code 1). The credential never reaches either.
func run(ctx context.Context, env *Env, args []string, s spec) error {
	c := &call{Env: env}
	var settings []config.Setting
	if s.tenant {
		settings = append(settings, config.Setting{Name: "tenant", Default: "",
			Usage: "the tenant (required unless PROXYHUB_TENANT is set)", Parse: func(v string) error {
				if v == "" {
					return errors.New("required: give --tenant T or set PROXYHUB_TENANT")
				}
				c.tenant = v
				return nil
			}})
	}
	settings = append(settings, s.settings...)
	if len(s.formats) > 0 {
		settings = append(settings, outputSetting(&c.format, s.formats...))
	}
	settings = append(settings, c.conn.settings()...)
	cmd := config.Command{Name: "proxyhub " + s.name, Summary: s.summary, EnvPrefix: "PROXYHUB_",
		Settings: settings, Args: s.args, ParseArgs: s.parseArgs}
	if err := cmd.Load(args, env.Getenv, env.Stderr); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return nil
		}
		return &ExitError{Code: 2, Msg: c.conn.scrub(err.Error())}
	}
	hub, err := c.conn.client()
	if err != nil {
		return &ExitError{Code: 2, Msg: c.conn.scrub(err.Error())}
	}
	c.hub = hub
	if err := s.do(ctx, c); err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return &ExitError{Code: ee.Code, Msg: c.conn.scrub(ee.Msg)}
		}
		c.report(err)
		return reported()
	}
	return nil
}
