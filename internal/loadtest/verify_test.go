package loadtest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/proxyhub/proxyhub/api"
)

var verifyStart = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func rec(id int64, proxy, oldIP, newIP, reqID string, at time.Time) api.IPChange {
	return api.IPChange{ID: id, Proxy: proxy, OldIP: oldIP, NewIP: newIP, RequestID: reqID, At: api.NewTime(at), TokenID: "tok_x"}
}

// ndjson renders records as the hub's NDJSON export (newest first).
func ndjson(t *testing.T, recs ...api.IPChange) *strings.Reader {
	t.Helper()
	var b strings.Builder
	for i := len(recs) - 1; i >= 0; i-- {
		line, err := json.Marshal(recs[i])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return strings.NewReader(b.String())
}

func verifier() Verifier {
	return Verifier{Start: verifyStart, Ours: func(p string) bool { i, ok := proxyIndex(p); return ok && i < 100 }}
}

var (
	ack1 = Ack{RequestID: "r1", Proxy: "lt0000001", OldIP: "11.0.0.1", NewIP: "11.0.0.101"}
	ack2 = Ack{RequestID: "r2", Proxy: "lt0000002", OldIP: "11.0.0.2", NewIP: "11.0.0.102"}
	ack3 = Ack{RequestID: "r3", Proxy: "lt0000001", OldIP: "11.0.0.101", NewIP: "11.0.0.201"}
	in   = verifyStart.Add(time.Second)
)

func history(t *testing.T, extra ...api.IPChange) *strings.Reader {
	return ndjson(t, append([]api.IPChange{
		rec(1, ack1.Proxy, ack1.OldIP, ack1.NewIP, ack1.RequestID, in),
		rec(2, ack2.Proxy, ack2.OldIP, ack2.NewIP, ack2.RequestID, in),
		rec(3, ack3.Proxy, ack3.OldIP, ack3.NewIP, ack3.RequestID, in),
	}, extra...)...)
}

func TestVerify_EveryAcknowledgedChangeOnceIsOK(t *testing.T) {
	v := verifier().Verify([]Ack{ack1, ack2, ack3}, history(t,
		rec(4, "edge-7", "203.0.113.1", "203.0.113.2", "other", in),                               // another writer's proxy
		rec(5, "lt0000003", "11.0.0.3", "11.0.0.103", "earlier", verifyStart.Add(-time.Second/2)), // an earlier run, inside the skew margin
	))
	if !v.OK || v.Acknowledged != 3 || v.Recorded != 3 || v.HistoryRecords != 5 || v.Other != 2 || len(v.Details) != 0 {
		t.Fatalf("want ok with 3 recorded and 2 other records: %+v", v)
	}
}

func TestVerify_ADuplicateRecordFails(t *testing.T) {
	v := verifier().Verify([]Ack{ack1, ack2, ack3}, history(t, rec(9, ack2.Proxy, ack2.OldIP, ack2.NewIP, ack2.RequestID, in)))
	if v.OK || v.Duplicated != 1 || v.Recorded != 2 {
		t.Fatalf("want one duplicate: %+v", v)
	}
	if len(v.Details) != 1 || !strings.Contains(v.Details[0], "r2") || !strings.Contains(v.Details[0], "2 times") {
		t.Fatalf("details do not name the duplicated request: %q", v.Details)
	}
}

func TestVerify_AMissingChangeFails(t *testing.T) {
	v := verifier().Verify([]Ack{ack1, ack2, ack3}, ndjson(t,
		rec(1, ack1.Proxy, ack1.OldIP, ack1.NewIP, ack1.RequestID, in),
		rec(3, ack3.Proxy, ack3.OldIP, ack3.NewIP, ack3.RequestID, in)))
	if v.OK || v.Missing != 1 || v.Recorded != 2 {
		t.Fatalf("want one missing: %+v", v)
	}
	if len(v.Details) != 1 || !strings.Contains(v.Details[0], "lt0000002 11.0.0.2 → 11.0.0.102 (request r2) is not in the history") {
		t.Fatalf("details: %q", v.Details)
	}
}

func TestVerify_ARecordWithOtherAddressesFails(t *testing.T) {
	v := verifier().Verify([]Ack{ack1, ack2, ack3}, ndjson(t,
		rec(1, ack1.Proxy, ack1.OldIP, ack1.NewIP, ack1.RequestID, in),
		rec(2, ack2.Proxy, "11.0.0.99", ack2.NewIP, ack2.RequestID, in),
		rec(3, ack3.Proxy, ack3.OldIP, ack3.NewIP, ack3.RequestID, in)))
	if v.OK || v.Mismatched != 1 || !strings.Contains(strings.Join(v.Details, "\n"), "recorded lt0000002 11.0.0.99 → 11.0.0.102") {
		t.Fatalf("want one mismatch: %+v", v)
	}
}

func TestVerify_AChangeNobodyWasToldAboutFails(t *testing.T) {
	v := verifier().Verify([]Ack{ack1, ack2, ack3}, history(t, rec(7, "lt0000042", "11.0.0.42", "11.0.0.142", "r-lost", in)))
	if v.OK || v.Unacknowledged != 1 || v.Recorded != 3 || !strings.Contains(strings.Join(v.Details, "\n"), "r-lost") {
		t.Fatalf("want one unacknowledged: %+v", v)
	}
}

func TestVerify_WrongAnswersAndUnreadableHistoryFail(t *testing.T) {
	vr := verifier()
	vr.AnswerMismatches, vr.AnswerDetails = 1, []string{"lt0000005: moved from 11.0.0.5 to 11.0.0.105, but the hub answered ip_changed false"}
	if v := vr.Verify([]Ack{ack1, ack2, ack3}, history(t)); v.OK || v.AnswerMismatches != 1 || len(v.Details) != 1 {
		t.Fatalf("a wrong answer must fail the verification: %+v", v)
	}
	v := verifier().Verify([]Ack{ack1}, strings.NewReader(`{"id":1,"proxy":"lt0000001","old_ip":"11.0.0.1","new_ip":"11.0.0.101","request_id":"r1","at":"2026-11-28T09:00:01.000Z"}`+"\n{\"id\":2,"))
	if v.OK || v.Error == "" || v.HistoryRecords != 1 {
		t.Fatalf("a cut-off history must fail with an error: %+v", v)
	}
}

func TestVerify_DetailsAreBounded(t *testing.T) {
	var acks []Ack
	for i := range 100 {
		acks = append(acks, Ack{RequestID: ProxyName(i), Proxy: ProxyName(i), OldIP: "11.0.0.1", NewIP: "11.0.0.2"})
	}
	v := verifier().Verify(acks, strings.NewReader(""))
	if v.OK || v.Missing != 100 || len(v.Details) != maxDetails {
		t.Fatalf("missing %d, %d details", v.Missing, len(v.Details))
	}
}
