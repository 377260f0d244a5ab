package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/csvsafe"
)

// format is how a command prints what it got.
type format string

const (
	// formatTable is columns aligned for a person (text/tabwriter).
	formatTable format = "table"
	// formatJSON is the API's objects, indented.
	formatJSON format = "json"
	// formatCSV is a header row and one row per item (encoding/csv), with
	// times in RFC 3339 rather than "3m ago".
	formatCSV format = "csv"
)

// listFormats are what list commands print.
var listFormats = []format{formatTable, formatJSON, formatCSV}

// outputSetting is -o/--output, accepting allowed; the first is the
// default.
func outputSetting(f *format, allowed ...format) config.Setting {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	list := strings.Join(names, ", ")
	return config.Setting{Name: "output", Short: "o", NoEnv: true, Default: names[0], Usage: "output format: " + list, Parse: func(v string) error {
		for _, a := range allowed {
			if format(v) == a {
				*f = a
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %s", v, list)
	}}
}

// column is one column of a list: its heading in a table and in CSV, and
// how an item fills it in each.
type column[T any] struct {
	title string         // table heading, e.g. "LAST SEEN"
	key   string         // CSV heading, e.g. "last_seen"
	text  func(T) string // table cell
	raw   func(T) string // CSV cell; nil uses text
}

// writeList prints items as f: a table with footer (if any) as its last
// line, CSV with a header row, or asJSON as indented JSON.
func writeList[T any](w io.Writer, f format, items []T, cols []column[T], footer string, asJSON any) error {
	switch f {
	case formatJSON:
		return writeJSON(w, asJSON)
	case formatCSV:
		cw := csvsafe.NewWriter(w)
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.key
		}
		if err := cw.Write(row); err != nil {
			return err
		}
		for _, it := range items {
			for i, c := range cols {
				if c.raw != nil {
					row[i] = c.raw(it)
				} else {
					row[i] = c.text(it)
				}
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for i, c := range cols {
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			io.WriteString(tw, c.title)
		}
		io.WriteString(tw, "\n")
		for _, it := range items {
			for i, c := range cols {
				if i > 0 {
					io.WriteString(tw, "\t")
				}
				io.WriteString(tw, cell(c.text(it)))
			}
			io.WriteString(tw, "\n")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if footer != "" {
			_, err := fmt.Fprintln(w, footer)
			return err
		}
		return nil
	}
}

// cell keeps a table cell on its line and in its column: tabs and line
// breaks become spaces, and an empty cell shows "-".
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonArray prints one JSON array an element at a time, so a long list is
// printed as its pages arrive rather than held in memory.
type jsonArray struct {
	w io.Writer
	n int
}

// add prints v as the array's next element.
func (a *jsonArray) add(v any) error {
	b, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if a.n == 0 {
		sep = "[\n  "
	}
	a.n++
	_, err = fmt.Fprintf(a.w, "%s%s", sep, b)
	return err
}

// close ends the array ("[]" when it had no element).
func (a *jsonArray) close() error {
	end := "\n]\n"
	if a.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(a.w, end)
	return err
}

// yesNo renders a boolean in a table.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// plural says n things: "1 proxy", "3 proxies".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
