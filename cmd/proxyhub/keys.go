package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"github.com/proxyhub/proxyhub/internal/auth"
	"github.com/proxyhub/proxyhub/internal/config"
)

// keygen writes a new signing key file.
func keygen(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.LoadKeygen(args, getenv, stderr)
	if err != nil {
		return usageError(err)
	}
	key, err := auth.GenerateKeyFile(cfg.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote Ed25519 signing key %s (key id %s); set PROXYHUB_SIGNING_KEY_FILE=%s\n",
		cfg.Out, auth.KeyID(key.Public().(ed25519.PublicKey)), cfg.Out)
	return nil
}

// mintJWT prints an admin JWT signed with the key file.
func mintJWT(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.LoadMintJWT(args, getenv, stderr)
	if err != nil {
		return usageError(err)
	}
	key, err := auth.LoadKeyFile(cfg.KeyFile)
	if err != nil {
		return err
	}
	tok, err := auth.NewSigner(key, auth.LocalIssuer, auth.LocalAudience, time.Now).Sign(cfg.Subject, cfg.Tenant, auth.Role(cfg.Role), cfg.TTL)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
