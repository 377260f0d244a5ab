// Package redistest finds the Redis server that tests of shared rate
// limits use: PROXYHUB_TEST_REDIS_ADDR, else 127.0.0.1:6379 (scripts/test.sh
// sets the variable, starting a throwaway server when none runs). Without
// one the test is skipped, or fails when CI=true.
package redistest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvAddr names the environment variable holding the test server's
// host:port.
const EnvAddr = "PROXYHUB_TEST_REDIS_ADDR"

// Addr returns the host:port of a Redis server that answers PING.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		msg := "no Redis at " + addr + " (set " + EnvAddr + ", or run bash scripts/test.sh): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return addr
}
