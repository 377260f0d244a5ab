package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/proxyhub/proxyhub/internal/eventbus"
	"github.com/proxyhub/proxyhub/internal/hub"
	"github.com/proxyhub/proxyhub/internal/notify"
)

// background runs the hub's loops beside the HTTP server: the sweeper
// (offline flips), the event bus (live streams), the webhook dispatcher
// and, when retention is set, the history pruner. Sweeper, dispatcher and
// pruner act only while this hub leads.
type background struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startBackground(ctx context.Context, log *slog.Logger, sw *hub.Sweeper, bus *eventbus.Bus, watch eventbus.Watcher, d *notify.Dispatcher, pruner *hub.HistoryPruner) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel}
	run := func(name string, fn func(context.Context) error) {
		b.wg.Go(func() {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				log.Error("background loop stopped", slog.String("loop", name), slog.String("error", err.Error()))
			}
		})
	}
	run("sweeper", sw.Run)
	run("events", func(ctx context.Context) error { return bus.Run(ctx, watch) })
	run("webhooks", d.Run)
	if pruner != nil {
		run("retention", pruner.Run)
	}
	return b
}

// stop ends the loops and waits for them (an attempt in flight finishes or
// is cancelled; its state is in the store, so nothing is lost).
func (b *background) stop() {
	b.cancel()
	b.wg.Wait()
}
