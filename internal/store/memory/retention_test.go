package memory

import "testing"

func TestBoundedLog_KeepsTheNewestRecords(t *testing.T) {
	l := boundedLog[int]{max: 8}
	for i := 1; i <= 20; i++ {
		l.add(i)
		if len(l.items) > 8 {
			t.Fatalf("%d records kept, max 8", len(l.items))
		}
	}
	if got := l.items[len(l.items)-1]; got != 20 {
		t.Fatalf("newest %d, want 20", got)
	}
	for i := 1; i < len(l.items); i++ {
		if l.items[i] != l.items[i-1]+1 {
			t.Fatalf("not contiguous: %v", l.items)
		}
	}
	if l.items[0] < 13 {
		t.Fatalf("oldest kept %d: more than max", l.items[0])
	}
}
