package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/sqlite"
	"github.com/proxyhub/proxyhub/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) hub.Store { return open(t, t.TempDir(), sqlite.Options{}) })
}

func TestLivenessConformance(t *testing.T) {
	storetest.RunLiveness(t, func(t *testing.T) storetest.LiveStore { return open(t, t.TempDir(), sqlite.Options{}) })
}

// open opens the store of dir/proxyhub.db, closed when t ends.
func open(t testing.TB, dir string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, filepath.Join(dir, "proxyhub.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
