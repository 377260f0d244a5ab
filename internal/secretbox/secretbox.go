// Package secretbox seals the short secrets the hub must be able to use
// again, such as webhook signing keys, before they are stored: AES-256-GCM
// with a random nonce, bound to what the secret belongs to (associated
// data), so a sealed value copied onto another record does not open.
//
// A sealed value reads "sealed:v1:<key id>:<base64url(nonce ‖ ciphertext)>".
// The key id (the first 8 hex digits of SHA-256 of the key) names the key
// it was sealed with, so a hub given another key says so instead of
// failing obscurely. The key is derived from the hub's Ed25519 signing key
// (FromSigningKey), which every hub of one database already shares.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a Box's key in bytes.
const KeySize = 32

const prefix = "sealed:v1:"

// hkdfInfo separates the sealing key from every other use of the signing
// key.
const hkdfInfo = "proxyhub secretbox v1"

// ErrNotSealed is returned by Open for a value that is not sealed (a
// secret stored before sealing).
var ErrNotSealed = errors.New("secretbox: value is not sealed")

// Box seals and opens secrets with one key. It is safe for concurrent use.
type Box struct {
	aead cipher.AEAD
	id   string
}

// New returns a Box with key, which must be KeySize bytes.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key of %d bytes, want %d", len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	sum := sha256.Sum256(key)
	return &Box{aead: aead, id: hex.EncodeToString(sum[:4])}, nil
}

// FromSigningKey returns the Box whose key is derived (HKDF-SHA256) from
// an Ed25519 private key: hubs that share the signing key share the Box.
func FromSigningKey(priv ed25519.PrivateKey) (*Box, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, errors.New("secretbox: not an Ed25519 private key")
	}
	key, err := hkdf.Key(sha256.New, priv.Seed(), nil, hkdfInfo, KeySize)
	if err != nil {
		return nil, fmt.Errorf("secretbox: derive the key: %w", err)
	}
	return New(key)
}

// KeyID names the Box's key (not secret).
func (b *Box) KeyID() string { return b.id }

// IsSealed reports whether v is a sealed value.
func IsSealed(v string) bool { return strings.HasPrefix(v, prefix) }

// Seal returns plain sealed for the record named by context (for example
// "webhook/<tenant>/<id>"); Open must be given the same context.
func (b *Box) Seal(plain, context string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secretbox: nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(plain), []byte(context))
	return prefix + b.id + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open returns the secret sealed in v for context. It fails with
// ErrNotSealed for a value that is not sealed, and with an error naming
// both key ids for a value sealed with another key. Its errors never
// contain the secret.
func (b *Box) Open(v, context string) (string, error) {
	rest, ok := strings.CutPrefix(v, prefix)
	if !ok {
		return "", ErrNotSealed
	}
	id, data, ok := strings.Cut(rest, ":")
	if !ok {
		return "", errors.New("secretbox: malformed sealed value")
	}
	if id != b.id {
		return "", fmt.Errorf("secretbox: sealed with key %s, this hub has key %s: every hub must use the same signing key", id, b.id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return "", errors.New("secretbox: malformed sealed value")
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return "", errors.New("secretbox: sealed value does not open: altered, or sealed for another record")
	}
	return string(plain), nil
}
