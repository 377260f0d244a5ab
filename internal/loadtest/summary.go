package loadtest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Latency is a latency distribution in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Result is what one target did in one phase.
type Result struct {
	Target        string           `json:"target"`
	Requests      int64            `json:"requests"`
	OK            int64            `json:"ok"`
	Errors        map[string]int64 `json:"errors"` // by status code, "net", "bad_answer"
	ErrorTotal    int64            `json:"error_total"`
	DurationS     float64          `json:"duration_s"`
	ThroughputRPS float64          `json:"throughput_rps"`
	TargetRPS     float64          `json:"target_rps,omitempty"`
	Rounds        int              `json:"rounds"`
	Latency       Latency          `json:"latency_ms"`
	// Warmup is burst mode's registration pass (not part of the figures
	// above: a burst models the top of a minute for a registered fleet).
	Warmup *Result `json:"warmup,omitempty"`
}

// Ratio compares the hub with the baseline: hub figure / baseline figure.
type Ratio struct {
	Throughput float64 `json:"throughput"`
	P50        float64 `json:"p50"`
	P90        float64 `json:"p90"`
	P99        float64 `json:"p99"`
	Max        float64 `json:"max"`
}

// Summary is the outcome of a run; its JSON is what --json prints.
type Summary struct {
	Passed         bool    `json:"passed"`
	Mode           string  `json:"mode"`
	Tenant         string  `json:"tenant"`
	Proxies        int     `json:"proxies"`
	Tokens         int     `json:"tokens"`
	Concurrency    int     `json:"concurrency"`
	ChangeFraction float64 `json:"change_fraction"`
	XFF            bool    `json:"xff"`
	PeriodS        float64 `json:"period_s,omitempty"` // cron: the compressed period
	Result                 // the hub
	// IPChanges is how many changes the hub acknowledged (ip_changed true).
	IPChanges int64 `json:"ip_changes"`
	// Verify is null with --no-verify.
	Verify   *Verification `json:"verify"`
	Baseline *Result       `json:"baseline,omitempty"`
	Ratio    *Ratio        `json:"ratio,omitempty"`
	// Aborted says why the run stopped early, if it did.
	Aborted string `json:"aborted,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func result(t target, p *phaseStats, targetRPS float64) Result {
	errs, total := p.errors()
	r := Result{
		Target: t.url, Requests: p.requests.Load(), OK: p.ok.Load(), Errors: errs, ErrorTotal: total,
		DurationS: p.active.Seconds(), TargetRPS: targetRPS, Rounds: p.rounds,
		Latency: Latency{P50: ms(p.hist.Quantile(0.50)), P90: ms(p.hist.Quantile(0.90)), P99: ms(p.hist.Quantile(0.99)),
			Max: ms(p.hist.Max()), Mean: ms(p.hist.Mean())},
	}
	if p.active > 0 {
		r.ThroughputRPS = float64(r.Requests) / p.active.Seconds()
	}
	return r
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func ratios(hub, base Result) *Ratio {
	return &Ratio{
		Throughput: ratio(hub.ThroughputRPS, base.ThroughputRPS),
		P50:        ratio(hub.Latency.P50, base.Latency.P50),
		P90:        ratio(hub.Latency.P90, base.Latency.P90),
		P99:        ratio(hub.Latency.P99, base.Latency.P99),
		Max:        ratio(hub.Latency.Max, base.Latency.Max),
	}
}

// errorTotal counts every failed heartbeat, hub and baseline, registration
// passes included.
func (s *Summary) errorTotal() int64 {
	n := s.ErrorTotal
	if s.Warmup != nil {
		n += s.Warmup.ErrorTotal
	}
	if s.Baseline != nil {
		n += s.Baseline.ErrorTotal
		if s.Baseline.Warmup != nil {
			n += s.Baseline.Warmup.ErrorTotal
		}
	}
	return n
}

func (s *Summary) pass() bool {
	return s.Aborted == "" && s.errorTotal() == 0 && (s.Verify == nil || s.Verify.OK)
}

// Failure says why the run did not pass ("" when it did).
func (s *Summary) Failure() string {
	var why []string
	if s.Aborted != "" {
		why = append(why, "aborted: "+s.Aborted)
	}
	if n := s.errorTotal(); n > 0 {
		why = append(why, fmt.Sprintf("%d heartbeat(s) failed", n))
	}
	if s.Verify != nil && !s.Verify.OK {
		why = append(why, "verification failed")
	}
	return strings.Join(why, "; ")
}

func fmtErrors(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// WriteText prints the summary for people.
func (s *Summary) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "proxyhub-loadtest: %s, %d proxies over %d token(s) in tenant %s, %d connections, %.0f%% of proxies change IP per round",
		s.Mode, s.Proxies, s.Tokens, s.Tenant, s.Concurrency, s.ChangeFraction*100)
	if !s.XFF {
		fmt.Fprint(w, " (no X-Forwarded-For: no changes)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-16s\trequests\trounds\tduration\treq/s\ttarget req/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\t\n", "")
	row := func(name string, r *Result) {
		target := "-"
		if r.TargetRPS > 0 {
			target = fmt.Sprintf("%.0f", r.TargetRPS)
		}
		fmt.Fprintf(tw, "%-16s\t%d\t%d\t%.2fs\t%.0f\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t\n", name, r.Requests, r.Rounds, r.DurationS,
			r.ThroughputRPS, target, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	}
	if s.Warmup != nil {
		row("hub registration", s.Warmup)
	}
	row("hub", &s.Result)
	if s.Baseline != nil {
		row("baseline", s.Baseline)
	}
	if s.Ratio != nil {
		fmt.Fprintf(tw, "%-16s\t\t\t\t%.2f×\t\t%.2f×\t%.2f×\t%.2f×\t%.2f×\t\n", "hub/baseline", s.Ratio.Throughput, s.Ratio.P50, s.Ratio.P90, s.Ratio.P99, s.Ratio.Max)
	}
	tw.Flush()
	fmt.Fprintf(w, "hub: %s\n", s.Target)
	if s.Baseline != nil {
		fmt.Fprintf(w, "baseline: bare net/http handler at %s (same engine, same settings)\n", s.Baseline.Target)
	}
	errs := fmtErrors(s.Errors)
	if s.Warmup != nil && s.Warmup.ErrorTotal > 0 {
		errs += "; registration pass: " + fmtErrors(s.Warmup.Errors)
	}
	fmt.Fprintf(w, "errors: %s\n", errs)
	if s.Errors["429"] > 0 || (s.Warmup != nil && s.Warmup.Errors["429"] > 0) {
		fmt.Fprintln(w, "  429: the hub's heartbeat rate limits (per token and proxy name, per token) refused some; raise PROXYHUB_RATE_HEARTBEAT and PROXYHUB_RATE_HEARTBEAT_TOKEN on the hub under test")
	}
	if s.Baseline != nil && s.Baseline.ErrorTotal > 0 {
		fmt.Fprintf(w, "baseline errors: %s\n", fmtErrors(s.Baseline.Errors))
	}
	fmt.Fprintf(w, "ip changes acknowledged: %d\n", s.IPChanges)
	switch v := s.Verify; {
	case v == nil:
		fmt.Fprintln(w, "verify: skipped")
	case v.OK:
		fmt.Fprintf(w, "verify: ok: all %d acknowledged changes are in the history exactly once; no unacknowledged changes (%d history records read)\n",
			v.Acknowledged, v.HistoryRecords)
	default:
		fmt.Fprintf(w, "verify: FAILED: %d acknowledged, %d recorded once, %d missing, %d duplicated, %d mismatched, %d unacknowledged, %d wrong answers\n",
			v.Acknowledged, v.Recorded, v.Missing, v.Duplicated, v.Mismatched, v.Unacknowledged, v.AnswerMismatches)
		if v.Error != "" {
			fmt.Fprintf(w, "  %s\n", v.Error)
		}
		for _, d := range v.Details {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
	if s.Aborted != "" {
		fmt.Fprintf(w, "aborted: %s\n", s.Aborted)
	}
	if s.Passed {
		_, err := fmt.Fprintln(w, "result: pass")
		return err
	}
	_, err := fmt.Fprintf(w, "result: FAIL (%s)\n", s.Failure())
	return err
}
