package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/proxyhub/proxyhub/internal/config"
)

// exitError ends the process with a given code; code 2 means bad usage or
// an invalid setting.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError reports err as a usage problem (exit code 2), or nil when
// help was asked for.
func usageError(err error) error {
	if errors.Is(err, config.ErrHelp) {
		return nil
	}
	return &exitError{code: 2, msg: err.Error()}
}

// command is a subcommand: its name, one-line summary and implementation.
// Admin commands talk to a hub through its API rather than run one.
type command struct {
	name, summary string
	admin         bool
	run           func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

// commands are the subcommands, in the order the usage text lists them.
var commands = append([]command{
	{name: "serve", summary: "run the hub (embedded store unless PROXYHUB_DATABASE_URL is set)", run: serve},
	{name: "openapi", summary: "print the OpenAPI 3.1 document (YAML) generated from the code", run: printOpenAPI},
	{name: "migrate", summary: "apply the PostgreSQL migrations and prepare the application role serve connects as", run: migrate},
	{name: "keygen", summary: "write a new Ed25519 key for signing admin JWTs", run: keygen},
	{name: "jwt", summary: "mint an admin JWT with the signing key (bootstrap, scripts)", run: mintJWT},
	{name: "version", summary: "print the version, the commit it was built from and the Go release", run: printVersion},
}, adminCommands()...)

// run is the whole program: it dispatches args[1] to a subcommand. It
// returns instead of exiting so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 || args[1] == "-h" || args[1] == "--help" || args[1] == "help" {
		printUsage(stdout)
		if len(args) < 2 {
			return &exitError{code: 2}
		}
		return nil
	}
	for _, c := range commands {
		if c.name == args[1] {
			return c.run(ctx, args[2:], getenv, stdout, stderr)
		}
	}
	printUsage(stderr)
	return &exitError{code: 2, msg: fmt.Sprintf("unknown command %q", args[1])}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: proxyhub COMMAND [flags]\n\nCommands:")
	for _, c := range commands {
		if !c.admin {
			fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintln(w, "\nAdmin commands, through a hub's API (PROXYHUB_URL, PROXYHUB_TOKEN; --tenant or PROXYHUB_TENANT):")
	for _, c := range commands {
		if c.admin {
			fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintln(w, "\nRun 'proxyhub COMMAND --help' for a command's flags.")
}
