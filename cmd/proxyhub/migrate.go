package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/proxyhub/proxyhub/internal/config"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// migrate applies the database migrations and reports the schema version.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.LoadMigrate(args, getenv, stderr)
	if err != nil {
		return usageError(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{AutoMigrate: true})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer st.Close()
	v, err := postgres.SchemaVersion(ctx, st.Pool())
	if err != nil {
		return fmt.Errorf("migrate: read the schema version: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "database schema at version %d\n", v)
	return err
}
