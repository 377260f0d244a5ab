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
	// Short is a second, usually one-letter, name of the flag, e.g. "o"
	// for output (-o json); empty for none.
	Short string
	// Repeat lets the flag be given more than once: Parse receives the
	// values joined with commas. The variable, if any, is used as it is,
	// so a list there is written comma-separated.
	Repeat bool
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
	// Args names the positional arguments in the usage line, e.g. "ID".
	Args string
	// ParseArgs receives the positional arguments, which may come before,
	// between or after the flags (and are all that follows a "--"). Load
	// calls it after every setting's Parse. When it is nil the command
	// takes no positional argument and refuses any.
	ParseArgs func(args []string) error
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
// rejects returns *Error. A positional argument is handed to ParseArgs, or
// refused with an error naming it when c has none.
func (c Command) Load(args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(out)
	envs := make([]string, len(c.Settings))
	values := make([]func() string, len(c.Settings))
	for i, s := range c.Settings {
		v := s.Default
		if !s.NoEnv {
			envs[i] = c.EnvName(s.Name)
			if e := getenv(envs[i]); e != "" {
				v = e
			}
		}
		if s.Repeat {
			l := &listValue{initial: v}
			fs.Var(l, s.Name, s.Usage)
			if s.Short != "" {
				fs.Var(l, s.Short, s.Usage)
			}
			values[i] = l.String
			continue
		}
		p := fs.String(s.Name, v, s.Usage)
		if s.Short != "" {
			fs.StringVar(p, s.Short, v, s.Usage)
		}
		values[i] = func() string { return *p }
	}
	fs.Usage = func() { c.usage(out, envs) }
	positional, err := c.parse(fs, c.switches(args))
	if err != nil {
		return err
	}
	if len(positional) > 0 && c.ParseArgs == nil {
		fs.Usage()
		return fmt.Errorf("unexpected argument %s", quoteArg(positional[0]))
	}
	for i, s := range c.Settings {
		if err := s.Parse(strings.TrimSpace(values[i]())); err != nil {
			return &Error{Setting: s.Name, Env: envs[i], Err: err}
		}
	}
	if c.ParseArgs != nil {
		return c.ParseArgs(positional)
	}
	return nil
}

// parse parses the flags in args and returns the positional arguments.
// With ParseArgs set, flags may follow positional arguments: parsing
// resumes after each one, until a "--" ends the flags.
func (c Command) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if consumed := len(args) - len(rest); c.ParseArgs == nil || (consumed > 0 && args[consumed-1] == "--") {
			return append(positional, rest...), nil
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
}

// usage prints the usage line, the summary and the table of settings.
func (c Command) usage(out io.Writer, envs []string) {
	line := c.Name + " [flags]"
	if c.Args != "" {
		line += " " + c.Args
	}
	fmt.Fprintf(out, "Usage: %s\n\n%s\n\nEvery flag can also be set by its environment variable; a flag wins.\n\n", line, c.Summary)
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
		name := "--" + s.Name
		if s.Short != "" {
			name = "-" + s.Short + ", " + name
		}
		if s.Repeat {
			name += " (repeatable)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, env, def, s.Usage)
	}
	tw.Flush()
}

// listValue is the flag.Value of a Repeat setting: the first use of the
// flag replaces the initial value (the variable's or the default), later
// uses add to it.
type listValue struct {
	initial string
	values  []string
	set     bool
}

func (l *listValue) String() string {
	if l == nil {
		return ""
	}
	if !l.set {
		return l.initial
	}
	return strings.Join(l.values, ",")
}

func (l *listValue) Set(v string) error {
	l.values, l.set = append(l.values, v), true
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
			if s.Short != "" {
				isSwitch[s.Short] = true
			}
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

// quoteArg quotes a stray argument for an error message, unless it may be
// a secret (a token, a JWT, a client secret pasted in the wrong place):
// those are described, never echoed.
func quoteArg(arg string) string {
	for _, prefix := range []string{"phb_", "phc_", "phs_", "whsec_", "eyJ"} {
		if strings.HasPrefix(arg, prefix) || strings.Contains(arg, ":"+prefix) {
			return "(a credential: pass it in the environment, e.g. PROXYHUB_TOKEN, not as an argument)"
		}
	}
	if len(arg) > 64 {
		return fmt.Sprintf("(%d characters, not shown)", len(arg))
	}
	return fmt.Sprintf("%q", arg)
}
