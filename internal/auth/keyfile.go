package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"os"
)

const (
	// pemTypePKCS8 is the PEM block type of a PKCS#8 private key.
	pemTypePKCS8 = "PRIVATE KEY"
	// maxKeyFileBytes bounds what LoadKeyFile reads: an Ed25519 PKCS#8 PEM
	// file is about 120 bytes, so anything near this size is not a key.
	maxKeyFileBytes = 16 << 10
)

// GenerateKeyFile creates a new Ed25519 key and writes it to path as a PKCS#8
// PEM block ("PRIVATE KEY") with mode 0600. It refuses to overwrite an
// existing file (the file is opened with O_EXCL, so this holds even against a
// concurrent writer) and removes what it created if writing fails. It returns
// the new key.
func GenerateKeyFile(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate key for %s: %w", path, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("auth: encode key for %s: %w", path, err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemTypePKCS8, Bytes: der})

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: create key file: %w", err) // *PathError names the path
	}
	// The umask can only clear bits; Chmod makes the mode exactly 0600 even
	// under an unusual umask.
	werr := f.Chmod(0o600)
	if werr == nil {
		_, werr = f.Write(data)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("auth: write key file %s: %w", path, werr)
	}
	return key, nil
}

// LoadKeyFile reads an Ed25519 private key stored as a single PKCS#8 PEM block
// ("PRIVATE KEY") at path. Errors name the path and the cause but never
// include the file's contents. Keys of any other type (RSA, ECDSA, …), other
// PEM block types, trailing data and files over 16 KiB are rejected.
func LoadKeyFile(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: open key file: %w", err) // *PathError names the path
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("auth: read key file: %w", err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("auth: key file %s: larger than %d bytes, not a key", path, maxKeyFileBytes)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("auth: key file %s: no PEM block found", path)
	}
	if block.Type != pemTypePKCS8 {
		// The block type is part of the contents; say what was expected instead.
		return nil, fmt.Errorf("auth: key file %s: PEM block is not of type %q (PKCS#8)", path, pemTypePKCS8)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("auth: key file %s: unexpected data after the PEM block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		// x509/asn1 errors describe the structure (tags, offsets), never key bytes.
		return nil, fmt.Errorf("auth: key file %s: not a PKCS#8 private key: %w", path, err)
	}
	key, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: key file %s: key is a %T, want an Ed25519 key", path, parsed)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("auth: key file %s: Ed25519 key has %d bytes, want %d", path, len(key), ed25519.PrivateKeySize)
	}
	return key, nil
}

// KeyID returns a stable key id for pub: the unpadded base64url encoding of
// the first 12 bytes of the SHA-256 of the raw 32-byte public key (16
// characters). The Signer puts it in the JWT "kid" header.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
