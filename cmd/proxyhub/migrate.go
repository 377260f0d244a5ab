package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// migrate applies the database migrations, prepares the application role
// and reports both. It connects as the tables' owner, often a superuser;
// serve then connects as the application role.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.LoadMigrate(args, getenv, stderr)
	if err != nil {
		return usageError(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{AutoMigrate: true, AllowBypassRLS: true})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer st.Close()
	v, err := postgres.SchemaVersion(ctx, st.Pool())
	if err != nil {
		return fmt.Errorf("migrate: read the schema version: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "database schema at version %d\n", v); err != nil {
		return err
	}
	if cfg.AppRole == "" {
		_, err = fmt.Fprintln(stdout, "no application role prepared (--app-role is empty): serve must connect as an ordinary role of its own")
		return err
	}
	res, err := postgres.GrantAppRole(ctx, st.Pool(), cfg.AppRole, cfg.AppPassword)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	what := "granted"
	if res.Created {
		what = "created and granted"
	}
	if res.PasswordSet {
		what += ", password set"
	} else if res.Created {
		what += ", no password (set one with PROXYHUB_APP_PASSWORD, or ALTER ROLE)"
	}
	_, err = fmt.Fprintf(stdout, "application role %s %s: serve connects as it (PROXYHUB_DATABASE_URL with user %s)\n", cfg.AppRole, what, cfg.AppRole)
	return err
}
