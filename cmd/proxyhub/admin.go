package main

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/proxyhub/proxyhub/internal/cli"
)

// adminClock is the admin commands' clock: what "3m ago" and --since 24h
// are measured from. Tests set it to the fake clock of the hub they run.
var adminClock = time.Now

// adminCommands are the commands that administer a hub through its API
// (internal/cli), as entries of the command table.
func adminCommands() []command {
	var out []command
	for _, c := range cli.Commands() {
		out = append(out, command{name: c.Name, summary: c.Summary, admin: true, run: adminRun(c)})
	}
	return out
}

// adminRun runs c with run's arguments; its usage errors exit with code 2
// and the message, its other failures (already printed) with code 1.
func adminRun(c cli.Command) func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		err := c.Run(ctx, &cli.Env{Getenv: getenv, Stdout: stdout, Stderr: stderr, Now: adminClock}, args)
		var ee *cli.ExitError
		if errors.As(err, &ee) {
			return &exitError{code: ee.Code, msg: ee.Msg}
		}
		return err
	}
}
