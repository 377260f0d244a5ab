package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateAndLoadKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.key")
	key, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatalf("GenerateKeyFile: %v", err)
	}
	if len(key) != ed25519.PrivateKeySize {
		t.Fatalf("key has %d bytes", len(key))
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Fatalf("mode = %v, want 0600", got)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" || len(strings.TrimSpace(string(rest))) != 0 {
		t.Fatalf("file is not a single PRIVATE KEY PEM block:\n%s", data)
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Fatalf("not PKCS#8: %v", err)
	}

	loaded, err := LoadKeyFile(path)
	if err != nil {
		t.Fatalf("LoadKeyFile: %v", err)
	}
	if !key.Equal(loaded) {
		t.Fatal("loaded key differs from generated key")
	}

	// A second key is a different key.
	other, err := GenerateKeyFile(filepath.Join(t.TempDir(), "other.key"))
	if err != nil {
		t.Fatal(err)
	}
	if key.Equal(other) {
		t.Fatal("two generated keys are equal")
	}
}

func TestGenerateKeyFileRefusesOverwrite(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"existing_key", func(t *testing.T, path string) {
			if _, err := GenerateKeyFile(path); err != nil {
				t.Fatal(err)
			}
		}},
		{"existing_other_file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("precious"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"dangling_symlink", func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(path), "target"), path); err != nil {
				t.Skip("symlinks unsupported:", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.key")
			tt.setup(t, path)
			before, _ := os.Lstat(path)
			beforeData, _ := os.ReadFile(path)

			_, err := GenerateKeyFile(path)
			if !errors.Is(err, fs.ErrExist) {
				t.Fatalf("GenerateKeyFile over existing file: err = %v, want fs.ErrExist", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path", err)
			}
			after, _ := os.Lstat(path)
			afterData, _ := os.ReadFile(path)
			if before.Mode() != after.Mode() || string(beforeData) != string(afterData) {
				t.Fatal("existing file was changed")
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(path), "target")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatal("symlink target was created")
			}
		})
	}
}

func TestGenerateKeyFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "hub.key")
	if _, err := GenerateKeyFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want an error naming %s", err, path)
	}
}

func pemFile(t *testing.T, typ string, der []byte) string {
	t.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestLoadKeyFileErrors(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPKCS8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPKCS8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPKCS8, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	edPub, err := x509.MarshalPKIXPublicKey(edKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	edPEM := pemFile(t, "PRIVATE KEY", edPKCS8)

	tests := []struct {
		name     string
		contents *string // nil: no file at all
		wantIn   string  // a substring of the error
	}{
		{name: "missing_file", wantIn: "no such file"},
		{name: "empty_file", contents: ptrTo(""), wantIn: "no PEM block"},
		{name: "garbage", contents: ptrTo("correct horse battery staple SECRETGARBAGE\n"), wantIn: "no PEM block"},
		{name: "rsa_pkcs8", contents: ptrTo(pemFile(t, "PRIVATE KEY", rsaPKCS8)), wantIn: "want an Ed25519 key"},
		{name: "rsa_pkcs1", contents: ptrTo(pemFile(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))), wantIn: "PKCS#8"},
		{name: "ecdsa_pkcs8", contents: ptrTo(pemFile(t, "PRIVATE KEY", ecPKCS8)), wantIn: "want an Ed25519 key"},
		{name: "ed25519_public_key", contents: ptrTo(pemFile(t, "PUBLIC KEY", edPub)), wantIn: "PKCS#8"},
		{name: "corrupt_der", contents: ptrTo(pemFile(t, "PRIVATE KEY", []byte("SECRETGARBAGE-not-der"))), wantIn: "not a PKCS#8 private key"},
		{name: "two_keys", contents: ptrTo(edPEM + edPEM), wantIn: "after the PEM block"},
		{name: "trailing_garbage", contents: ptrTo(edPEM + "SECRETGARBAGE"), wantIn: "after the PEM block"},
		{name: "huge_file", contents: ptrTo(strings.Repeat("SECRETGARBAGE", 2000)), wantIn: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hub.key")
			if tt.contents != nil {
				if err := os.WriteFile(path, []byte(*tt.contents), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			key, err := LoadKeyFile(path)
			if err == nil {
				t.Fatalf("LoadKeyFile succeeded with a %d-byte key", len(key))
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the path", msg)
			}
			if !strings.Contains(msg, tt.wantIn) {
				t.Errorf("error %q does not contain %q", msg, tt.wantIn)
			}
			if tt.contents == nil {
				return
			}
			// No contents in the error: neither the garbage marker, nor any
			// PEM line, nor the base64 of the DER.
			if strings.Contains(msg, "SECRETGARBAGE") || strings.Contains(msg, "-----") {
				t.Errorf("error leaks file contents: %q", msg)
			}
			for _, line := range strings.Split(*tt.contents, "\n") {
				if len(line) >= 16 && strings.Contains(msg, line) {
					t.Errorf("error leaks a line of the file: %q", msg)
				}
			}
			if block, _ := pem.Decode([]byte(*tt.contents)); block != nil {
				enc := base64.StdEncoding.EncodeToString(block.Bytes)
				for i := 0; i+16 <= len(enc); i += 8 {
					if strings.Contains(msg, enc[i:i+16]) {
						t.Fatalf("error leaks key material: %q", msg)
					}
				}
			}
		})
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestKeyID(t *testing.T) {
	pubA, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pubB, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	zero := make(ed25519.PublicKey, ed25519.PublicKeySize)
	sum := sha256.Sum256(zero)

	tests := []struct {
		name string
		got  string
		want string
	}{
		{"definition", KeyID(zero), base64.RawURLEncoding.EncodeToString(sum[:12])},
		{"stable", KeyID(pubA), KeyID(append(ed25519.PublicKey(nil), pubA...))},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: KeyID = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if KeyID(pubA) == KeyID(pubB) {
		t.Error("two keys share a key id")
	}
	if id := KeyID(pubA); len(id) != 16 || strings.ContainsAny(id, "+/=") {
		t.Errorf("KeyID = %q, want 16 unpadded base64url characters", id)
	}
}
