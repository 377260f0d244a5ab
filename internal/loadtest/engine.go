package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Modes.
const (
	Steady = "steady"
	Burst  = "burst"
	Cron   = "cron"
)

// Config is what one run does. Zero values are not defaults: the command
// fills every field (see internal/config LoadLoadtest).
type Config struct {
	Hub            string // base URL of the hub under test
	JWT            string // admin JWT; never printed
	Tenant         string
	Proxies        int
	Tokens         int    // heartbeat tokens to spread the proxies over; 0 = max(1, Proxies/1000)
	TokensFile     string // read tokens from it, or create them and save them there (0600)
	Mode           string // Steady, Burst or Cron
	Rate           float64
	Duration       time.Duration
	Period         time.Duration
	Compress       float64
	Rounds         int // burst: bursts (0 = 1); cron: periods (0 = from Duration)
	Concurrency    int
	ChangeFraction float64
	XFF            bool
	Verify         bool
	Baseline       bool
	Timeout        time.Duration

	Progress io.Writer // progress bar (a terminal), or nil
	Log      io.Writer // what the run is doing (tenant, tokens), or nil
	Seed     uint64    // 0 = from the clock
}

// cronPeriod is the compressed length of one cron period.
func (c *Config) cronPeriod() time.Duration {
	return time.Duration(float64(c.Period) / c.Compress)
}

// rounds is how many rounds the run makes after normalisation: bursts,
// cron periods, or 0 (steady: until Duration).
func (c *Config) rounds() int {
	switch c.Mode {
	case Burst:
		return max(1, c.Rounds)
	case Cron:
		if c.Rounds > 0 {
			return c.Rounds
		}
		return max(1, int(math.Round(float64(c.Duration)/float64(c.cronPeriod()))))
	}
	return 0
}

// workers is the size of the worker pool (and of the connection pool).
func (c *Config) workers() int {
	if c.Mode == Burst {
		return max(1, min(c.Proxies, c.Concurrency))
	}
	return max(1, c.Concurrency)
}

// expected is how many heartbeats the load phase will send, when known.
func (c *Config) expected() int64 {
	switch c.Mode {
	case Burst:
		return int64(c.Proxies) * int64(c.rounds()+1) // + the registration pass
	case Cron:
		return int64(c.Proxies) * int64(c.rounds())
	}
	if c.Rate > 0 {
		return int64(c.Rate * c.Duration.Seconds())
	}
	return 0
}

// targetRate is the heartbeat rate the schedule asks for (0: as fast as
// the connections allow).
func (c *Config) targetRate() float64 {
	switch c.Mode {
	case Steady:
		return c.Rate
	case Cron:
		return float64(c.Proxies) / c.cronPeriod().Seconds()
	}
	return 0
}

func (c *Config) validate() error {
	switch c.Mode {
	case Steady, Burst, Cron:
	default:
		return fmt.Errorf("unknown mode %q (steady, burst or cron)", c.Mode)
	}
	switch {
	case c.Proxies < 1:
		return errors.New("proxies must be at least 1")
	case c.Proxies >= int(ipSpace):
		return fmt.Errorf("at most %d proxies", ipSpace-1)
	case c.Concurrency < 1:
		return errors.New("concurrency must be at least 1")
	case c.ChangeFraction < 0 || c.ChangeFraction > 1:
		return errors.New("change fraction must be between 0 and 1")
	case c.Timeout <= 0:
		return errors.New("timeout must be positive")
	case c.Mode == Steady && (c.Duration <= 0 || c.Rate < 0):
		return errors.New("steady needs a positive duration and a rate ≥ 0")
	case c.Mode == Cron && (c.Period <= 0 || c.Compress <= 0 || c.cronPeriod() < time.Millisecond):
		return errors.New("cron needs a period and a compression leaving at least 1ms per period")
	case c.Mode == Cron && c.Rounds <= 0 && c.Duration <= 0:
		return errors.New("cron needs --rounds or --duration")
	}
	return nil
}

// target is what a load phase sends heartbeats to.
type target struct {
	name  string // "hub" or "baseline"
	url   string // base URL, no trailing slash
	check bool   // check answers against the fleet (the hub), or only parse them (baseline)
}

// phaseStats are the counters of one phase.
type phaseStats struct {
	hist     *Histogram
	requests atomic.Int64 // answered or failed
	ok       atomic.Int64
	net      atomic.Int64
	bad      atomic.Int64 // 200 with a body that is not a heartbeat answer
	changes  atomic.Int64
	status   [600]atomic.Int64
	active   time.Duration // set by the dispatcher
	rounds   int
}

func newPhase() *phaseStats { return &phaseStats{hist: NewHistogram()} }

func (p *phaseStats) errors() (map[string]int64, int64) {
	m := map[string]int64{}
	var total int64
	for code := range p.status {
		if n := p.status[code].Load(); n > 0 && code != http.StatusOK {
			m[fmt.Sprint(code)] = n
			total += n
		}
	}
	if n := p.net.Load(); n > 0 {
		m["net"] = n
		total += n
	}
	if n := p.bad.Load(); n > 0 {
		m["bad_answer"] = n
		total += n
	}
	return m, total
}

type job struct {
	proxy int32
	st    *phaseStats
}

// loader drives one target.
type loader struct {
	cfg    *Config
	tgt    target
	client *fasthttp.HostClient
	auth   []string // "Bearer phb_…" per token
	fleet  *fleet
	jobs   chan job
	round  sync.WaitGroup
	cancel context.CancelCauseFunc

	done, okAll, errorsSeen atomic.Int64 // across phases: the progress bar and the "nothing works" abort
	dispatched              atomic.Int64

	mu          sync.Mutex
	acks        []Ack
	mismatches  int
	mismatchLog []string
}

// newClient is the load client: valyala/fasthttp's HostClient, as many
// connections as workers, kept alive, no proxy from the environment. Not
// net/http's client: the generator shares the machine with the hub it
// measures, and fasthttp's client, which reuses its requests and answers,
// costs a fraction of the CPU per request (measured: 77 µs of CPU per
// heartbeat with net/http's client, see BENCHMARKS.md), CPU the hub gets
// instead. The baseline is loaded by the same client.
func newClient(base string, conns int, timeout time.Duration) (*fasthttp.HostClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("hub URL %q: want http(s)://host[:port]", base)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	return &fasthttp.HostClient{
		Addr:                addr,
		IsTLS:               u.Scheme == "https",
		MaxConns:            conns,
		MaxConnWaitTimeout:  timeout,
		ReadTimeout:         timeout,
		WriteTimeout:        timeout,
		MaxIdleConnDuration: 90 * time.Second,
		MaxResponseBodySize: maxBody,
		Dial: func(addr string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).Dial("tcp", addr)
		},
	}, nil
}

// loadResult is what a loader hands back.
type loadResult struct {
	main, warmup *phaseStats
	acks         []Ack
	mismatches   int
	mismatchLog  []string
	aborted      error
}

// runLoad sends the whole schedule of cfg to tgt.
func runLoad(ctx context.Context, cfg *Config, tgt target, tokens []string, seed uint64, progress *progress) loadResult {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	client, err := newClient(tgt.url, cfg.workers(), cfg.Timeout)
	if err != nil {
		return loadResult{aborted: err}
	}
	l := &loader{cfg: cfg, tgt: tgt, client: client, fleet: newFleet(cfg.Proxies, seed), cancel: cancel}
	defer l.client.CloseIdleConnections()
	for _, t := range tokens {
		l.auth = append(l.auth, "Bearer "+t)
	}
	if len(l.auth) == 0 {
		l.auth = []string{""}
	}
	if progress != nil {
		stop := progress.start(tgt.name, cfg.Mode, cfg.expected(), &l.done, &l.errorsSeen)
		defer stop()
	}

	workers := cfg.workers()
	l.jobs = make(chan job, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var buf bytes.Buffer
			for j := range l.jobs {
				l.beat(ctx, j, &buf)
				l.round.Done()
			}
		})
	}

	var res loadResult
	k := changeCount(cfg.Proxies, cfg.ChangeFraction)
	if !cfg.XFF {
		k = 0 // the hub sees the socket address: nothing to change
	}
	switch cfg.Mode {
	case Burst:
		res.warmup = newPhase()
		t0 := time.Now()
		l.sendRound(ctx, res.warmup, nil, nil, time.Time{})
		res.warmup.active = time.Since(t0)
		res.warmup.rounds = 1
		res.main = newPhase()
		for r := 0; r < cfg.rounds() && ctx.Err() == nil; r++ {
			l.fleet.change(k)
			t0 := time.Now()
			l.sendRound(ctx, res.main, nil, nil, time.Time{})
			res.main.active += time.Since(t0)
			res.main.rounds++
		}
	case Steady:
		res.main = newPhase()
		t0 := time.Now()
		deadline := t0.Add(cfg.Duration)
		total := 0
		for r := 0; ctx.Err() == nil; r++ {
			if r > 0 {
				l.fleet.change(k)
			}
			var due func(int) time.Time
			if cfg.Rate > 0 {
				base := total
				due = func(i int) time.Time { return t0.Add(time.Duration(float64(base+i) / cfg.Rate * float64(time.Second))) }
			}
			sent, complete := l.sendRound(ctx, res.main, nil, due, deadline)
			total += sent
			if complete {
				res.main.rounds++
			}
			if !complete || !time.Now().Before(deadline) {
				break
			}
		}
		res.main.active = time.Since(t0)
	case Cron:
		res.main = newPhase()
		order := l.fleet.shuffled()
		period := cfg.cronPeriod()
		n := cfg.Proxies
		t0 := time.Now()
		for r := 0; r < cfg.rounds() && ctx.Err() == nil; r++ {
			if r > 0 {
				l.fleet.change(k)
			}
			// Each proxy has a fixed slot in the period; a period whose
			// predecessor overran starts late rather than bunching up.
			start := t0.Add(time.Duration(r) * period)
			if now := time.Now(); now.After(start) {
				start = now
			}
			due := func(i int) time.Time { return start.Add(time.Duration(float64(i) / float64(n) * float64(period))) }
			if _, complete := l.sendRound(ctx, res.main, order, due, time.Time{}); complete {
				res.main.rounds++
			}
		}
		res.main.active = time.Since(t0)
	}
	close(l.jobs)
	wg.Wait()
	res.acks, res.mismatches, res.mismatchLog = l.acks, l.mismatches, l.mismatchLog
	if ctx.Err() != nil {
		res.aborted = context.Cause(ctx)
	}
	return res
}

// sendRound sends one heartbeat of every proxy (in order, or 0…N-1), the
// i-th no earlier than due(i) when due is set, stopping early at stopAt
// when set, and waits until all are answered: the round barrier. It returns
// how many it sent and whether that was all of them.
func (l *loader) sendRound(ctx context.Context, st *phaseStats, order []int32, due func(int) time.Time, stopAt time.Time) (int, bool) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	n := l.cfg.Proxies
	sent := 0
loop:
	for i := 0; i < n; i++ {
		if due != nil {
			at := due(i)
			if !stopAt.IsZero() && !at.Before(stopAt) {
				break
			}
			if d := time.Until(at); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					break loop
				case <-timer.C:
				}
			}
		}
		if !stopAt.IsZero() && !time.Now().Before(stopAt) {
			break
		}
		p := int32(i)
		if order != nil {
			p = order[i]
		}
		l.round.Add(1)
		select {
		case l.jobs <- job{proxy: p, st: st}:
			sent++
			l.dispatched.Add(1)
		case <-ctx.Done():
			l.round.Done()
			break loop
		}
	}
	l.round.Wait()
	return sent, sent == n
}

// answer is the part of a heartbeat answer the tool checks.
type answer struct {
	Success    bool   `json:"success"`
	Name       string `json:"name"`
	RemoteIP   string `json:"remote_ip"`
	IPChanged  bool   `json:"ip_changed"`
	PreviousIP string `json:"previous_ip"`
}

// maxBody bounds how much of an answer is read.
const maxBody = 64 << 10

// beat sends proxy j.proxy's heartbeat and records the outcome.
func (l *loader) beat(ctx context.Context, j job, buf *bytes.Buffer) {
	i := int(j.proxy)
	st := j.st
	name := ProxyName(i)
	req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(res)
	req.SetRequestURI(l.tgt.url + "/proxy_server?name=" + name)
	if a := l.auth[i%len(l.auth)]; a != "" {
		req.Header.Set("Authorization", a)
	}
	var sent uint32
	if l.cfg.XFF {
		sent = l.fleet.ip(i)
		req.Header.Set("X-Forwarded-For", ipString(sent))
	}
	t0 := time.Now()
	err := l.client.DoTimeout(req, res, l.cfg.Timeout)
	lat := time.Since(t0)
	if ctx.Err() != nil {
		return // stopped meanwhile: neither counted nor failed (fasthttp takes no context)
	}
	if err != nil {
		st.requests.Add(1)
		st.net.Add(1)
		l.finished(false)
		return
	}
	st.hist.Record(lat)
	st.requests.Add(1)
	code := res.StatusCode()
	st.status[min(max(code, 0), len(st.status)-1)].Add(1)
	if code != http.StatusOK {
		l.finished(false)
		return
	}
	buf.Reset()
	buf.Write(res.Body())
	var a answer
	if err := json.Unmarshal(buf.Bytes(), &a); err != nil || !a.Success {
		st.status[http.StatusOK].Add(-1)
		st.bad.Add(1)
		l.finished(false)
		return
	}
	st.ok.Add(1)
	l.finished(true)
	if !l.tgt.check {
		return
	}

	got := parseIPv4(a.RemoteIP)
	if a.Name != name {
		l.mismatch("%s: the answer names %q", name, a.Name)
	}
	if l.cfg.XFF && got != sent {
		if got>>24 != ipBase>>24 {
			l.cancel(fmt.Errorf("the hub answered remote_ip %s for a heartbeat sent with X-Forwarded-For %s: it does not trust this machine's address; "+
				"add it to PROXYHUB_TRUSTED_PROXIES on the hub, or run with --xff=false", a.RemoteIP, ipString(sent)))
			return
		}
		l.mismatch("%s: sent from %s, the hub answered remote_ip %s", name, ipString(sent), a.RemoteIP)
	}
	prev := l.fleet.lastAck[i]
	if a.IPChanged {
		st.changes.Add(1)
		ack := Ack{RequestID: string(res.Header.Peek("X-Request-Id")), Proxy: name, OldIP: a.PreviousIP, NewIP: a.RemoteIP}
		l.mu.Lock()
		l.acks = append(l.acks, ack)
		l.mu.Unlock()
		switch {
		case prev != 0 && parseIPv4(a.PreviousIP) != prev:
			l.mismatch("%s: ip_changed with previous_ip %s, but the hub last acknowledged %s", name, a.PreviousIP, ipString(prev))
		case prev != 0 && prev == got:
			l.mismatch("%s: ip_changed although the address stayed %s", name, a.RemoteIP)
		}
	} else if prev != 0 && got != prev {
		l.mismatch("%s: moved from %s to %s, but the hub answered ip_changed false", name, ipString(prev), a.RemoteIP)
	}
	l.fleet.lastAck[i] = got
}

// abortAfter is how many heartbeats may fail, with none succeeding, before
// the run stops: nothing works (wrong tokens, wrong hub, …).
const abortAfter = 100

// finished counts one completed heartbeat.
func (l *loader) finished(ok bool) {
	d := l.done.Add(1)
	if ok {
		l.okAll.Add(1)
		return
	}
	l.errorsSeen.Add(1)
	if d >= abortAfter && l.okAll.Load() == 0 {
		l.cancel(fmt.Errorf("the first %d heartbeats to %s all failed", d, l.tgt.url))
	}
}

func (l *loader) mismatch(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mismatches++
	if len(l.mismatchLog) < maxDetails {
		l.mismatchLog = append(l.mismatchLog, fmt.Sprintf(format, args...))
	}
}

// trimURL normalises a base URL.
func trimURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", s)
	}
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}
