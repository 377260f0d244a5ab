package auth

import (
	"encoding/hex"
	"hash/crc32"
	"strings"
	"testing"
)

func mustSecret(t testing.TB, prefix string) string {
	t.Helper()
	s, err := NewSecret(prefix)
	if err != nil {
		t.Fatalf("NewSecret(%q): %v", prefix, err)
	}
	return s
}

func allBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if base62Value(s[i]) < 0 {
			return false
		}
	}
	return true
}

func TestNewSecretFormat(t *testing.T) {
	for _, prefix := range []string{PrefixHeartbeatToken, PrefixClientSecret, "x_"} {
		t.Run(prefix, func(t *testing.T) {
			s := mustSecret(t, prefix)
			if got, want := len(s), len(prefix)+36; got != want {
				t.Fatalf("len = %d, want %d", got, want)
			}
			if !strings.HasPrefix(s, prefix) {
				t.Fatalf("%q lacks prefix %q", s, prefix)
			}
			body := s[len(prefix):]
			if !allBase62(body) {
				t.Fatalf("body %q has non-base62 characters", body)
			}
			// The last six characters are the zero-padded base-62 CRC32 of the rest.
			var v uint64
			for i := 30; i < 36; i++ {
				v = v*62 + uint64(base62Value(body[i]))
			}
			if want := uint64(crc32.ChecksumIEEE([]byte(s[:len(prefix)+30]))); v != want {
				t.Fatalf("checksum %d, want %d", v, want)
			}
			if !WellFormed(prefix, s) {
				t.Fatalf("WellFormed(%q, %q) = false for a fresh secret", prefix, s)
			}
		})
	}
}

func TestNewSecretEmptyPrefix(t *testing.T) {
	if s, err := NewSecret(""); err == nil {
		t.Fatalf("NewSecret(\"\") = %q, nil; want an error", s)
	}
}

func TestPutChecksumZeroPads(t *testing.T) {
	tests := []struct {
		sum  uint32
		want string
	}{
		{0, "000000"},
		{61, "00000z"},
		{62, "000010"},
		{0xFFFFFFFF, "4gfFC3"}, // 4294967295 in base 62
	}
	for _, tt := range tests {
		var got [6]byte
		putChecksum(got[:], tt.sum)
		if string(got[:]) != tt.want {
			t.Errorf("putChecksum(%d) = %q, want %q", tt.sum, got, tt.want)
		}
	}
}

func TestWellFormed(t *testing.T) {
	good := mustSecret(t, PrefixHeartbeatToken)
	body := good[len(PrefixHeartbeatToken):]

	// flip replaces the character at i (counted in the body) by another base-62 one.
	flip := func(i int) string {
		b := []byte(good)
		j := len(PrefixHeartbeatToken) + i
		if b[j] == 'a' {
			b[j] = 'b'
		} else {
			b[j] = 'a'
		}
		return string(b)
	}

	tests := []struct {
		name   string
		prefix string
		s      string
		want   bool
	}{
		{"fresh", PrefixHeartbeatToken, good, true},
		{"wrong_prefix", PrefixClientSecret, good, false},
		{"prefix_swapped_in_secret", PrefixHeartbeatToken, PrefixClientSecret + body, false},
		{"flipped_first_random_char", PrefixHeartbeatToken, flip(0), false},
		{"flipped_middle_random_char", PrefixHeartbeatToken, flip(15), false},
		{"flipped_last_random_char", PrefixHeartbeatToken, flip(29), false},
		{"flipped_checksum_char", PrefixHeartbeatToken, flip(33), false},
		{"truncated", PrefixHeartbeatToken, good[:len(good)-1], false},
		{"extra_char", PrefixHeartbeatToken, good + "a", false},
		{"non_base62_char", PrefixHeartbeatToken, good[:len(good)-10] + "-" + good[len(good)-9:], false},
		{"non_ascii_char", PrefixHeartbeatToken, good[:len(good)-2] + "é", false},
		{"trailing_newline", PrefixHeartbeatToken, good[:len(good)-1] + "\n", false},
		{"empty", PrefixHeartbeatToken, "", false},
		{"prefix_only", PrefixHeartbeatToken, PrefixHeartbeatToken, false},
		{"empty_prefix", "", good, false},
		{"upper_cased", PrefixHeartbeatToken, strings.ToUpper(good), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WellFormed(tt.prefix, tt.s); got != tt.want {
				t.Errorf("WellFormed(%q, %q) = %v, want %v", tt.prefix, tt.s, got, tt.want)
			}
		})
	}
}

func TestNewSecretDistinct(t *testing.T) {
	const n = 10_000
	seen := make(map[string]struct{}, n)
	for range n {
		s := mustSecret(t, PrefixHeartbeatToken)
		if _, dup := seen[s]; dup {
			t.Fatalf("duplicate secret after %d calls", len(seen))
		}
		seen[s] = struct{}{}
	}
}

func TestHashSecret(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		// SHA-256 test vectors (FIPS 180-2).
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		if got := HashSecret(tt.in); got != tt.want {
			t.Errorf("HashSecret(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}

	s := mustSecret(t, PrefixClientSecret)
	h1, h2 := HashSecret(s), HashSecret(s)
	if h1 != h2 {
		t.Fatalf("HashSecret not deterministic: %s vs %s", h1, h2)
	}
	if len(h1) != 64 {
		t.Fatalf("len(HashSecret) = %d, want 64", len(h1))
	}
	if _, err := hex.DecodeString(h1); err != nil || strings.ToLower(h1) != h1 {
		t.Fatalf("HashSecret = %q, want lowercase hex", h1)
	}
	if HashSecret(s+"x") == h1 {
		t.Fatal("different secrets hash alike")
	}
}

func TestEqualHashes(t *testing.T) {
	a := HashSecret("a")
	b := HashSecret("b")
	tests := []struct {
		name string
		x, y string
		want bool
	}{
		{"same", a, a, true},
		{"same_copied", a, strings.Clone(a), true},
		{"different", a, b, false},
		{"prefix", a, a[:63], false},
		{"empty_vs_hash", "", a, false},
		{"case_differs", a, strings.ToUpper(a), false},
		{"both_empty", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EqualHashes(tt.x, tt.y); got != tt.want {
				t.Errorf("EqualHashes = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	for _, prefix := range []string{"tok_", "phc_", ""} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			seen := make(map[string]struct{})
			for range 1000 {
				id := NewID(prefix)
				if len(id) != len(prefix)+16 || !strings.HasPrefix(id, prefix) || !allBase62(id[len(prefix):]) {
					t.Fatalf("NewID(%q) = %q, want prefix + 16 base62 characters", prefix, id)
				}
				if _, dup := seen[id]; dup {
					t.Fatalf("duplicate id %q", id)
				}
				seen[id] = struct{}{}
			}
		})
	}
}

func TestFillBase62UsesWholeAlphabet(t *testing.T) {
	// Not a distribution test: every character must be reachable, which
	// catches an off-by-one in the rejection bound or the alphabet.
	buf := make([]byte, 20_000)
	fillBase62(buf)
	seen := make(map[byte]bool)
	for _, c := range buf {
		seen[c] = true
	}
	if len(seen) != 62 {
		t.Fatalf("saw %d distinct characters, want 62", len(seen))
	}
}

func BenchmarkWellFormedAndHash(b *testing.B) {
	s := mustSecret(b, PrefixHeartbeatToken)
	want := HashSecret(s)
	b.ReportAllocs()
	for b.Loop() {
		if !WellFormed(PrefixHeartbeatToken, s) || !EqualHashes(HashSecret(s), want) {
			b.Fatal("rejected a good secret")
		}
	}
}
