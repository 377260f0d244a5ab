// Package csvsafe writes CSV that spreadsheets open as data: a cell that
// starts with a character a spreadsheet reads as the start of a formula
// (=, +, -, @, tab, carriage return) is prefixed with a single quote, as
// OWASP's CSV-injection guidance says. Every CSV the hub and its CLI write
// carries text a caller chose (proxy names, labels, request ids), so every
// one goes through this package.
package csvsafe

import (
	"encoding/csv"
	"io"
)

// Cell returns s as a cell no spreadsheet evaluates: s itself, or s
// prefixed with ' when it starts with =, +, -, @, a tab or a carriage
// return. Cell is idempotent.
func Cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// Writer writes CSV records as a csv.Writer does, every cell through Cell.
type Writer struct {
	w   *csv.Writer
	row []string
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// Flush writes any buffered data to the underlying writer.
func (w *Writer) Flush() { w.w.Flush() }

// Error reports any error of a previous Write or Flush.
func (w *Writer) Error() error { return w.w.Error() }

// Write writes one record, each cell made safe by Cell; record itself is
// not changed.
func (w *Writer) Write(record []string) error {
	w.row = w.row[:0]
	for _, s := range record {
		w.row = append(w.row, Cell(s))
	}
	return w.w.Write(w.row)
}
