package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/proxyhub/proxyhub/api/client"
)

// report prints err on w as "error: …". An answer of the hub that is not
// 2xx reads "error: 404 Not Found: not found" (status, the problem's title
// and detail), then one indented line per field it names. scrub is applied
// to every line.
func report(w io.Writer, err error, scrub func(string) string) {
	var b strings.Builder
	pe, ok := client.AsProblem(err)
	if !ok {
		fmt.Fprintf(&b, "error: %s\n", err)
	} else {
		// What wraps the problem ("client credentials: …") stays in front.
		prefix := strings.TrimSuffix(err.Error(), pe.Error())
		fmt.Fprintf(&b, "error: %s%d %s", prefix, pe.StatusCode, pe.Problem.Title)
		if d := pe.Problem.Detail; d != nil && *d != "" {
			fmt.Fprintf(&b, ": %s", *d)
		}
		b.WriteByte('\n')
		if pe.Problem.Errors != nil {
			for _, f := range *pe.Problem.Errors {
				if f.Location != nil && *f.Location != "" {
					fmt.Fprintf(&b, "  %s: %s\n", *f.Location, f.Message)
				} else {
					fmt.Fprintf(&b, "  %s\n", f.Message)
				}
			}
		}
	}
	io.WriteString(w, scrub(b.String()))
}
