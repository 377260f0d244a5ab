package memory_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/store/memory"
)

// BenchmarkFootprint reports the heap the embedded store needs per proxy:
// b.N proxies registered with one heartbeat each, measured after GC
// against the empty store. Run with -benchtime=1000000x for the 1 million
// proxy figure:
//
//	go test -run x -bench Footprint -benchtime 1000000x ./internal/store/memory
func BenchmarkFootprint(b *testing.B) {
	ctx := context.Background()
	s := memory.New()
	if err := s.CreateTenant(ctx, hub.Tenant{ID: "acme", AutoRegister: true, OfflineAfter: 80 * time.Second}); err != nil {
		b.Fatal(err)
	}
	names := make([]string, b.N)
	for i := range names {
		names[i] = fmt.Sprintf("edge-%07d", i)
	}
	before := heap()
	t0 := time.Now()
	b.ResetTimer()
	for i := range b.N {
		ip := netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
		if _, err := s.RecordHeartbeat(ctx, hub.Heartbeat{TenantID: "acme", Name: names[i], IP: ip, PeerIP: ip, At: t0, MayCreate: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	names = nil
	after := heap()
	b.ReportMetric(float64(after-before)/float64(b.N), "bytes/proxy")
	runtime.KeepAlive(s)
}

func heap() uint64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkRecordHeartbeat is one heartbeat of a known proxy (the steady
// state: no change), from all cores, over 10,000 proxies of one tenant.
//
//	go test -run '^$' -bench RecordHeartbeat -benchmem ./internal/store/memory
func BenchmarkRecordHeartbeat(b *testing.B) {
	ctx := context.Background()
	s := memory.New()
	if err := s.CreateTenant(ctx, hub.Tenant{ID: "acme", AutoRegister: true, OfflineAfter: 80 * time.Second}); err != nil {
		b.Fatal(err)
	}
	const n = 10000
	hbs := make([]hub.Heartbeat, n)
	t0 := time.Now()
	for i := range hbs {
		ip := netip.AddrFrom4([4]byte{11, 0, byte(i >> 8), byte(i)})
		hbs[i] = hub.Heartbeat{TenantID: "acme", Name: fmt.Sprintf("edge-%05d", i), IP: ip, PeerIP: ip, At: t0, MayCreate: true}
		if _, err := s.RecordHeartbeat(ctx, hbs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.RecordHeartbeat(ctx, hbs[i%n]); err != nil {
				b.Error(err)
				return
			}
			i += 7
		}
	})
}
