package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"hash/crc32"
)

// Prefixes of the opaque secrets proxyhub issues.
const (
	// PrefixHeartbeatToken starts every heartbeat token (the bearer a proxy's cron curl sends).
	PrefixHeartbeatToken = "phb_"
	// PrefixClientSecret starts every admin API client secret.
	PrefixClientSecret = "phs_"
	// PrefixBadgeKey starts a status badge's key (the public URL's secret
	// part: /badge/{key}.svg).
	PrefixBadgeKey = "phk_"
)

const (
	// base62 is the alphabet of every random or checksum character: digits, then
	// upper case, then lower case, so that the checksum encoding is the usual
	// big-endian base-62 number.
	base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

	// secretRandomLen random base-62 characters carry 30*log2(62) ≈ 178.6 bits.
	secretRandomLen = 30
	// secretChecksumLen base-62 characters hold any CRC32 (62^6 > 2^32).
	secretChecksumLen = 6
	// secretBodyLen is what follows the prefix.
	secretBodyLen = secretRandomLen + secretChecksumLen

	// idRandomLen is the random part of a public identifier (≈ 95 bits).
	idRandomLen = 16

	// rejectAbove is the largest multiple of 62 that fits in a byte (4*62).
	// Bytes at or above it are discarded so that b%62 is uniform.
	rejectAbove = 248
)

// errEmptyPrefix is returned by NewSecret for an empty prefix: a secret
// without a prefix could not be recognised by secret scanners or by WellFormed.
var errEmptyPrefix = errors.New("auth: secret prefix must not be empty")

// NewSecret returns a new opaque secret in GitHub's token format: prefix, then
// 30 random base-62 characters (≥ 178 bits from crypto/rand, drawn by rejection
// sampling so that every character is uniform), then 6 base-62 characters of
// the CRC32 (IEEE) of prefix plus the random part, zero-padded. The result is
// len(prefix)+36 characters long. The checksum lets WellFormed reject typos and
// truncations without a store lookup; it is not a security feature.
func NewSecret(prefix string) (string, error) {
	if prefix == "" {
		return "", errEmptyPrefix
	}
	buf := make([]byte, len(prefix)+secretBodyLen)
	copy(buf, prefix)
	random := buf[len(prefix) : len(prefix)+secretRandomLen]
	fillBase62(random)
	putChecksum(buf[len(prefix)+secretRandomLen:], crc32.ChecksumIEEE(buf[:len(prefix)+secretRandomLen]))
	return string(buf), nil
}

// WellFormed reports whether s is a secret NewSecret could have produced for
// prefix: it starts with prefix (which must not be empty), has the right
// length, holds only base-62 characters after the prefix, and its checksum
// matches. A false answer needs no store lookup; a true answer says nothing
// about whether the secret was ever issued.
func WellFormed(prefix, s string) bool {
	if prefix == "" || len(s) != len(prefix)+secretBodyLen || s[:len(prefix)] != prefix {
		return false
	}
	body := s[len(prefix):]
	for i := 0; i < len(body); i++ {
		if base62Value(body[i]) < 0 {
			return false
		}
	}
	var want [secretChecksumLen]byte
	putChecksum(want[:], checksumString(s[:len(prefix)+secretRandomLen]))
	return string(want[:]) == body[secretRandomLen:]
}

// HashSecret returns the lowercase hex SHA-256 of s, which is what the store
// keeps instead of the secret.
//
// A fast hash is the right choice here, and bcrypt/scrypt/argon2 are not:
// those exist to make guessing low-entropy passwords expensive, whereas every
// secret proxyhub issues carries ≥ 178 random bits, so brute force is
// infeasible whatever the hash costs. A slow hash would only add tens of
// milliseconds of CPU to every heartbeat (a cheap denial-of-service lever),
// and its per-hash salt would rule out looking a secret up by its hash.
func HashSecret(s string) string {
	var sum [sha256.Size]byte
	var in [128]byte // secrets fit: hashed from the stack, not a heap copy
	if len(s) <= len(in) {
		sum = sha256.Sum256(in[:copy(in[:], s)])
	} else {
		sum = sha256.Sum256([]byte(s))
	}
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// EqualHashes reports whether the hex hashes a and b are equal, in time that
// depends only on their lengths, not on their contents.
func EqualHashes(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// NewID returns prefix followed by 16 random base-62 characters. IDs name
// things in public (token ids "tok_", client ids "phc_", webhook ids …); they
// are unguessable but not secrets. NewID panics only if crypto/rand fails,
// which since Go 1.24 crashes the program anyway.
func NewID(prefix string) string {
	buf := make([]byte, len(prefix)+idRandomLen)
	copy(buf, prefix)
	fillBase62(buf[len(prefix):])
	return string(buf)
}

// fillBase62 fills dst with uniformly random base-62 characters from
// crypto/rand, rejecting bytes ≥ 248 so that b%62 carries no modulo bias.
func fillBase62(dst []byte) {
	var pool [64]byte
	avail := 0
	for i := 0; i < len(dst); {
		if avail == 0 {
			if _, err := rand.Read(pool[:]); err != nil {
				panic("auth: crypto/rand failed: " + err.Error())
			}
			avail = len(pool)
		}
		avail--
		b := pool[avail]
		if b >= rejectAbove {
			continue
		}
		dst[i] = base62[b%62]
		i++
	}
}

// checksumString returns the CRC32 (IEEE) of s without converting s to a
// heap-allocated []byte (secrets are short: a byte at a time is enough).
func checksumString(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// putChecksum writes sum as a big-endian base-62 number, zero-padded to len(dst).
func putChecksum(dst []byte, sum uint32) {
	v := uint64(sum)
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = base62[v%62]
		v /= 62
	}
}

// base62Value returns the value of base-62 character c, or -1 if c is not one.
func base62Value(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}
