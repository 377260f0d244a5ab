package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/proxyhub/proxyhub/internal/httpapi"
)

// printOpenAPI writes the OpenAPI document generated from the operations;
// the committed openapi.yaml must equal it.
func printOpenAPI(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: proxyhub openapi\n\nPrints the OpenAPI 3.1 document (YAML) that the hub serves at /openapi.yaml.")
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	b, err := httpapi.OpenAPI().YAML()
	if err != nil {
		return fmt.Errorf("render OpenAPI: %w", err)
	}
	_, err = stdout.Write(b)
	return err
}
