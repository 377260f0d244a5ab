package csvsafe_test

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/proxyhub/proxyhub/internal/csvsafe"
)

func TestCell_NeutralisesFormulaStarts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"edge-7", "edge-7"},
		{"203.0.113.7", "203.0.113.7"},
		{"2001:db8::1", "2001:db8::1"},
		{"", ""},
		{"=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"},
		{"-2-3-A1", "'-2-3-A1"},
		{"+1", "'+1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"'=1", "'=1"},
	} {
		if got := csvsafe.Cell(tc.in); got != tc.want {
			t.Errorf("Cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := csvsafe.Cell(csvsafe.Cell(tc.in)); got != tc.want {
			t.Errorf("Cell(Cell(%q)) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriter_WritesSafeCellsAndLeavesTheRecord(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := csvsafe.NewWriter(&buf)
	rec := []string{"edge-7", "=1+1", "a,b"}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	got, err := csv.NewReader(&buf).Read()
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != "edge-7" || got[1] != "'=1+1" || got[2] != "a,b" || rec[1] != "=1+1" {
		t.Fatalf("read back %q, record now %q", got, rec)
	}
}
