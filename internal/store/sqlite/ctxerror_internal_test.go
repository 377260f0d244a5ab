package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/proxyhub/proxyhub/internal/hub"
)

// TestCtxError: a context that ended by a deadline, its own or its
// callers' (a batch's context is cancelled with the cause of its last
// caller), means the store was too slow: hub.ErrUnavailable; a plain
// cancellation is the caller's own.
func TestCtxError(t *testing.T) {
	deadline, cancelDeadline := context.WithTimeout(context.Background(), 0)
	defer cancelDeadline()
	<-deadline.Done()
	byCallers, cancelByCallers := context.WithCancelCause(context.Background())
	cancelByCallers(context.DeadlineExceeded)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name        string
		ctx         context.Context
		unavailable bool
	}{
		{"own deadline", deadline, true},
		{"cancelled with a deadline as cause", byCallers, true},
		{"cancelled", cancelled, false},
	} {
		err := ctxError(c.ctx, "test")
		if errors.Is(err, hub.ErrUnavailable) != c.unavailable {
			t.Errorf("%s: %v, unavailable %v", c.name, err, c.unavailable)
		}
	}
}
