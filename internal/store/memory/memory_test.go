package memory_test

import (
	"testing"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
	"github.com/proxyhub/proxyhub/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) hub.Store { return memory.New() })
}

func TestLivenessConformance(t *testing.T) {
	storetest.RunLiveness(t, func(*testing.T) storetest.LiveStore { return memory.New() })
}
