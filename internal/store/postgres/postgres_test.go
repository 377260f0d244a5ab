package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
	"github.com/proxyhub/proxyhub/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hub.Store {
		return open(t, pgtest.URL(t), postgres.Options{})
	})
}

func TestLivenessConformance(t *testing.T) {
	storetest.RunLiveness(t, func(t *testing.T) storetest.LiveStore {
		return open(t, pgtest.URL(t), postgres.Options{})
	})
}

// open opens a store on url, closed when t ends.
func open(t testing.TB, url string, opts postgres.Options) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
