// Command proxyhub-loadtest simulates a fleet of proxies heartbeating a
// running hub, measures throughput and latency, and checks through the
// audit API that every IP change the hub acknowledged is in its history
// exactly once (internal/loadtest). It is a binary of its own so that the
// hub does not carry the load generator and its HTTP client.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "proxyhub-loadtest:", ee.msg)
			}
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "proxyhub-loadtest:", err)
		os.Exit(1)
	}
}
