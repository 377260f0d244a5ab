package eventbus

import (
	"context"
	"testing"
	"time"
)

type fakeWatch struct{ fns chan func(string) }

func (f fakeWatch) WatchEvents(ctx context.Context, fn func(string)) error {
	f.fns <- fn
	<-ctx.Done()
	return nil
}

// subscribers returns how many subscriptions are open.
func (b *Bus) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, m := range b.subs {
		n += len(m)
	}
	return n
}

func TestBus_WakesOnlyTheTenantsSubscribersWithoutBlocking(t *testing.T) {
	var b Bus
	w := fakeWatch{fns: make(chan func(string), 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = b.Run(ctx, w) }()
	wake := <-w.fns

	acme, stopA := b.Subscribe("acme")
	globex, stopG := b.Subscribe("globex")
	defer stopG()
	for range 5 { // many wake-ups merge into one pending; never block
		wake("acme")
	}
	select {
	case <-acme:
	case <-time.After(time.Second):
		t.Fatal("acme subscriber not woken")
	}
	select {
	case <-acme:
		t.Fatal("wake-ups were not merged")
	case <-globex:
		t.Fatal("globex woken by acme's events")
	default:
	}
	if n := b.subscribers(); n != 2 {
		t.Fatalf("%d subscribers", n)
	}
	stopA()
	wake("acme") // no subscriber left: nothing to do, no panic
	if n := b.subscribers(); n != 1 {
		t.Fatalf("%d subscribers after unsubscribe", n)
	}
}
