package loadtest

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws a one-line progress bar on a terminal, 4 times a second:
// target, mode, heartbeats done of expected, current rate, errors.
type progress struct {
	w     io.Writer
	every time.Duration
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		return nil
	}
	return &progress{w: w, every: 250 * time.Millisecond}
}

// start draws until the returned stop is called, which erases the line.
func (p *progress) start(name, mode string, total int64, done, errs *atomic.Int64) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(p.every)
		defer t.Stop()
		last, lastAt := done.Load(), time.Now()
		for {
			select {
			case <-quit:
				fmt.Fprint(p.w, "\r\x1b[K")
				return
			case now := <-t.C:
				n := done.Load()
				rate := float64(n-last) / now.Sub(lastAt).Seconds()
				last, lastAt = n, now
				fmt.Fprintf(p.w, "\r\x1b[K%s", progressLine(name, mode, n, total, rate, errs.Load()))
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// progressLine renders one state of the bar.
func progressLine(name, mode string, n, total int64, rate float64, errs int64) string {
	const width = 30
	var bar, count string
	if total > 0 {
		filled := int(min(n, total) * width / total)
		bar = "[" + strings.Repeat("█", filled) + strings.Repeat("░", width-filled) + "] "
		count = fmt.Sprintf("%d/%d", n, total)
	} else {
		count = fmt.Sprint(n)
	}
	return fmt.Sprintf("%s %s %s%s  %.0f req/s  errors %d", name, mode, bar, count, rate, errs)
}
