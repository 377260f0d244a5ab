package loadtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/proxyhub/proxyhub/api"
)

// Ack is an IP change the hub acknowledged in a heartbeat answer
// (ip_changed true), with the answer's X-Request-Id.
type Ack struct {
	RequestID string
	Proxy     string
	OldIP     string // previous_ip
	NewIP     string // remote_ip
}

// Verification is the result of checking the acknowledged IP changes
// against the hub's audit history.
type Verification struct {
	OK bool `json:"ok"`
	// Acknowledged is how many changes heartbeat answers reported.
	Acknowledged int `json:"acknowledged"`
	// Recorded is how many of them are in the history exactly once, with
	// the same proxy, old and new IP.
	Recorded int `json:"recorded"`
	// Missing, Duplicated and Mismatched are acknowledged changes absent from
	// the history, present more than once, or present with another proxy or
	// other addresses.
	Missing    int `json:"missing"`
	Duplicated int `json:"duplicated"`
	Mismatched int `json:"mismatched"`
	// Unacknowledged is history records of this run's proxies, inside the
	// run's window, that no heartbeat answer reported as a change. With the
	// tool as the tenant's only writer it must be 0.
	Unacknowledged int `json:"unacknowledged"`
	// AnswerMismatches is heartbeat answers that contradicted the tool's own
	// record (a changed address answered ip_changed false, a previous_ip
	// that is not the address last acknowledged, remote_ip not the address
	// sent, …).
	AnswerMismatches int `json:"answer_mismatches"`
	// HistoryRecords is how many records the audit export returned; Other
	// how many of them were about other proxies or before the run (ignored).
	HistoryRecords int `json:"history_records"`
	Other          int `json:"other"`
	// Details describes the first problems found.
	Details []string `json:"details,omitempty"`
	// Error is set when the history could not be read.
	Error string `json:"error,omitempty"`
}

// maxDetails bounds Details.
const maxDetails = 20

func (v *Verification) detail(format string, args ...any) {
	if len(v.Details) < maxDetails {
		v.Details = append(v.Details, fmt.Sprintf(format, args...))
	}
}

// Verifier checks acknowledged changes against an NDJSON IP-change history
// (GET /v1/tenants/{t}/ip-changes.ndjson).
type Verifier struct {
	// Ours reports whether a proxy name belongs to this run; records of
	// other proxies are ignored.
	Ours func(proxy string) bool
	// Start is when the run began: unacknowledged records before it are
	// left to earlier runs (the history is fetched from a second earlier,
	// to allow for clock skew between the tool and the hub).
	Start time.Time
	// AnswerMismatches found while the load ran, with their details.
	AnswerMismatches int
	AnswerDetails    []string
}

// Verify reads the whole history and checks that every acknowledged change
// appears exactly once, with the same proxy, old and new IP, and that no
// record of this run's proxies went unacknowledged.
func (vr Verifier) Verify(acks []Ack, history io.Reader) Verification {
	v := Verification{Acknowledged: len(acks), AnswerMismatches: vr.AnswerMismatches}
	for _, d := range vr.AnswerDetails {
		v.detail("%s", d)
	}
	type entry struct {
		ack  Ack
		seen int
		bad  bool
	}
	byID := make(map[string]*entry, len(acks))
	for _, a := range acks {
		if a.RequestID == "" {
			v.Missing++
			v.detail("acknowledged change %s %s → %s has no X-Request-Id to look it up by", a.Proxy, a.OldIP, a.NewIP)
			continue
		}
		if byID[a.RequestID] != nil {
			v.Duplicated++
			v.detail("request id %s acknowledged two changes", a.RequestID)
			continue
		}
		byID[a.RequestID] = &entry{ack: a}
	}

	dec := json.NewDecoder(history)
	for {
		var rec api.IPChange
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			v.Error = fmt.Sprintf("reading the history after %d records: %v", v.HistoryRecords, err)
			break
		}
		v.HistoryRecords++
		e := byID[rec.RequestID]
		if rec.RequestID == "" || e == nil {
			ours := vr.Ours == nil || vr.Ours(rec.Proxy)
			if ours && !time.Time(rec.At).Before(vr.Start) {
				v.Unacknowledged++
				v.detail("history record %d (%s %s → %s, request %s) was never acknowledged as a change", rec.ID, rec.Proxy, rec.OldIP, rec.NewIP, rec.RequestID)
			} else {
				v.Other++
			}
			continue
		}
		e.seen++
		if rec.Proxy != e.ack.Proxy || rec.OldIP != e.ack.OldIP || rec.NewIP != e.ack.NewIP {
			e.bad = true
			v.detail("request %s: acknowledged %s %s → %s, recorded %s %s → %s (record %d)",
				rec.RequestID, e.ack.Proxy, e.ack.OldIP, e.ack.NewIP, rec.Proxy, rec.OldIP, rec.NewIP, rec.ID)
		}
	}
	for id, e := range byID {
		switch {
		case e.seen == 0:
			v.Missing++
			v.detail("acknowledged change %s %s → %s (request %s) is not in the history", e.ack.Proxy, e.ack.OldIP, e.ack.NewIP, id)
		case e.seen > 1:
			v.Duplicated++
			v.detail("acknowledged change %s %s → %s (request %s) is in the history %d times", e.ack.Proxy, e.ack.OldIP, e.ack.NewIP, id, e.seen)
		case e.bad:
			v.Mismatched++
		default:
			v.Recorded++
		}
	}
	v.OK = v.Error == "" && v.Missing == 0 && v.Duplicated == 0 && v.Mismatched == 0 &&
		v.Unacknowledged == 0 && v.AnswerMismatches == 0 && v.Recorded == v.Acknowledged
	return v
}
