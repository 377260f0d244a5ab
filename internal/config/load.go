package config

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Setting is one configurable value of a command: a flag, the environment
// variable that also sets it, its default and how to parse it.
type Setting struct {
	// Name is the flag's name without dashes, e.g. "offline-after".
	Name string
	// Default is the value used when neither the flag nor the variable is
	// given; it is shown in the help as is ("" when empty).
	Default string
	// Usage is the one-line meaning shown in the help.
	Usage string
	// NoEnv makes the setting a flag only, with no environment variable.
	NoEnv bool
	// Switch marks a boolean setting: like Go's boolean flags, a bare
	// --name (or -name) means --name=true, and --name=false turns it off.
	// Without it every flag takes a value, so --name would swallow the
	// next argument.
	Switch bool
	// Parse checks the value (trimmed of spaces) and stores it. Load calls
	// it exactly once per setting, in the order of Command.Settings, so a
	// setting may look at those before it.
	Parse func(v string) error
}

// Command is a program or subcommand whose settings come from flags and
// environment variables, a flag winning over its variable.
type Command struct {
	// Name is what the usage line shows before "[flags]", e.g.
	// "proxyhub serve" or "proxyhub-loadtest".
	Name string
	// Summary is the help text between the usage line and the table of
	// settings.
	Summary string
	// EnvPrefix names the variables: a setting's variable is EnvPrefix
	// followed by its Name upper-cased with "-" as "_", e.g. "PROXYHUB_"
	// gives PROXYHUB_OFFLINE_AFTER for offline-after.
	EnvPrefix string
	// Settings are listed in the help and parsed in this order.
	Settings []Setting
}

// EnvName returns the environment variable of the setting called name:
// c.EnvPrefix followed by name upper-cased, "-" replaced by "_".
func (c Command) EnvName(name string) string {
	return c.EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Load reads c's settings from args (the arguments after the command's
// name) and getenv: each takes its flag if given, else its variable if not
// empty, else its default, and is then parsed by its Parse. Help and flag
// errors are printed to out; asking for help returns ErrHelp. A value Parse
// rejects returns *Error, and a positional argument an error naming it.
func (c Command) Load(args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(out)
	envs := make([]string, len(c.Settings))
	values := make([]*string, len(c.Settings))
	for i, s := range c.Settings {
		v := s.Default
		if !s.NoEnv {
			envs[i] = c.EnvName(s.Name)
			if e := getenv(envs[i]); e != "" {
				v = e
			}
		}
		values[i] = fs.String(s.Name, v, s.Usage)
	}
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: %s [flags]\n\n%s\n\nEvery flag can also be set by its environment variable; a flag wins.\n\n", c.Name, c.Summary)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FLAG\tENVIRONMENT\tDEFAULT\tMEANING")
		for i, s := range c.Settings {
			def := s.Default
			if def == "" {
				def = `""`
			}
			env := envs[i]
			if env == "" {
				env = "-"
			}
			fmt.Fprintf(tw, "--%s\t%s\t%s\t%s\n", s.Name, env, def, s.Usage)
		}
		tw.Flush()
	}
	if err := fs.Parse(c.switches(args)); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for i, s := range c.Settings {
		if err := s.Parse(strings.TrimSpace(*values[i])); err != nil {
			return &Error{Setting: s.Name, Env: envs[i], Err: err}
		}
	}
	return nil
}

// switches returns args with a bare --name or -name of a Switch setting
// rewritten to --name=true (up to a "--"): every setting is registered as a
// string flag, which would otherwise take the next argument as its value.
func (c Command) switches(args []string) []string {
	isSwitch := map[string]bool{}
	for _, s := range c.Settings {
		if s.Switch {
			isSwitch[s.Name] = true
		}
	}
	if len(isSwitch) == 0 {
		return args
	}
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if name := strings.TrimLeft(a, "-"); strings.HasPrefix(a, "-") && isSwitch[name] && len(a)-len(name) <= 2 {
			out[i] = "--" + name + "=true"
		}
	}
	return out
}

// hubCommand is `proxyhub cmd`, whose variables are PROXYHUB_*.
func hubCommand(cmd, summary string, settings []Setting) Command {
	return Command{Name: "proxyhub " + cmd, Summary: summary, EnvPrefix: "PROXYHUB_", Settings: settings}
}
