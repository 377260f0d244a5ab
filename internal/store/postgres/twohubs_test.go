package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/pgtest"
	"github.com/proxyhub/proxyhub/internal/store/postgres"
)

// TestTwoHubs_AlternatingHeartbeatsRecordEveryChangeOnce: two stores on one
// database (two hubs) take turns recording one proxy's changing IP.
func TestTwoHubs_AlternatingHeartbeatsRecordEveryChangeOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	hubs := []*postgres.Store{open(t, url, postgres.Options{}), open(t, url, postgres.Options{})}
	mustCreateTenants(t, hubs[0], "acme")
	const beats = 40
	var ids []int64
	for i := range beats {
		ip := fmt.Sprintf("192.0.2.%d", i%3) // every beat differs from the one before
		res := mustRecord(t, hubs[i%2], hb("acme", "edge-1", ip, t0.Add(time.Duration(i)*time.Second)))
		if i > 0 {
			if !res.Changed || res.PreviousIP.String() != fmt.Sprintf("192.0.2.%d", (i-1)%3) {
				t.Fatalf("beat %d on hub %d: %+v, want a change from the other hub's IP", i, i%2, res)
			}
			ids = append(ids, res.ChangeID)
		}
	}
	for _, h := range hubs {
		cs := mustChanges(t, h, "acme", hub.AuditQuery{})
		if len(cs) != beats-1 {
			t.Fatalf("history holds %d changes, want %d", len(cs), beats-1)
		}
		for i, c := range cs {
			j := beats - 1 - i // the beat that made it
			if c.ID != ids[j-1] || c.NewIP.String() != fmt.Sprintf("192.0.2.%d", j%3) || !c.At.Equal(t0.Add(time.Duration(j)*time.Second)) {
				t.Fatalf("change %d of the history: %+v, want beat %d's", i, c, j)
			}
		}
	}
}

// TestTwoHubs_ConcurrentChangesRecordedOnce: two hubs record conflicting
// IPs of the same proxies at once; the history holds exactly the changes
// acknowledged by either, chained.
func TestTwoHubs_ConcurrentChangesRecordedOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	hubs := []*postgres.Store{
		open(t, url, postgres.Options{BatchWait: time.Millisecond}),
		open(t, url, postgres.Options{BatchWait: 3 * time.Millisecond}),
	}
	mustCreateTenants(t, hubs[0], "acme")
	var mu sync.Mutex
	acked := map[int64]bool{}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 {
				h := hb("acme", fmt.Sprintf("edge-%d", i%3), fmt.Sprintf("192.0.2.%d", (w+i)%4), t0)
				res, err := hubs[w%2].RecordHeartbeat(context.Background(), h)
				if err != nil {
					t.Error(err)
					return
				}
				if res.Changed {
					mu.Lock()
					acked[res.ChangeID] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for p := range 3 {
		name := fmt.Sprintf("edge-%d", p)
		cs := mustChanges(t, hubs[1], "acme", hub.AuditQuery{Proxy: name})
		checkChain(t, cs)
		for _, c := range cs {
			if !acked[c.ID] {
				t.Fatalf("history holds change %d that nobody was told about", c.ID)
			}
		}
		got, _ := hubs[0].GetProxy(context.Background(), "acme", name)
		if got.IPChanges != int64(len(cs)) || (len(cs) > 0 && got.IP != cs[0].NewIP) {
			t.Fatalf("%s: %+v with %d changes in history", name, got, len(cs))
		}
		total += len(cs)
	}
	if total != len(acked) {
		t.Fatalf("history holds %d changes, %d were acknowledged", total, len(acked))
	}
}
