package main

import (
	"context"
	"fmt"
	"io"

	"github.com/proxyhub/proxyhub/internal/buildinfo"
)

// printVersion prints the build's version, commit and Go release.
func printVersion(_ context.Context, args []string, _ func(string) string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		return usageError(fmt.Errorf("version takes no arguments"))
	}
	_, err := fmt.Fprintln(stdout, buildinfo.Get())
	return err
}
