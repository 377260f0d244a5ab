package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/proxyhub/proxyhub/api"
	"github.com/proxyhub/proxyhub/internal/hub"
)

// operationHeartbeat is the heartbeat's operation id.
const operationHeartbeat = "heartbeat"

// routeAdapter is the hub's Huma adapter: it puts every operation on the
// mux as humago does, except the heartbeat, whose route is heartbeatRoute.
// Huma still declares and documents the heartbeat, and answers the
// requests the route leaves to it.
type routeAdapter struct {
	huma.Adapter
	mux *http.ServeMux
	h   *handlers
	api huma.API // set once the API exists, before any operation is registered
}

// Handle implements huma.Adapter.
func (a *routeAdapter) Handle(op *huma.Operation, handler func(huma.Context)) {
	if op.OperationID != operationHeartbeat {
		a.Adapter.Handle(op, handler)
		return
	}
	a.mux.Handle(strings.ToUpper(op.Method)+" "+op.Path, &heartbeatRoute{h: a.h, api: a.api, op: op, huma: handler})
}

// heartbeatRoute serves GET /proxy_server, what every proxy sends each
// minute, with the cost proportional to what the heartbeat changes. It
// runs the same steps as every operation (store deadline, gate, handler,
// error mapper, Huma's error writer) but skips what a heartbeat does not need: the query is
// read without building url.Values, no request or context is derived for
// the principal, and the answer is written without reflection, byte for
// byte what Huma would write (TestHeartbeatRoute_AnswersAsTheDocumentedOperation).
// A request it does not recognise as plain (another method, a query with
// anything but one well-formed name, an Accept that does not take JSON) is
// handed to Huma, which validates and answers it as documented.
type heartbeatRoute struct {
	h    *handlers
	api  huma.API
	op   *huma.Operation
	huma func(huma.Context)
}

func (hr *heartbeatRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ri := infoFrom(r.Context())
	name, plain := plainHeartbeatName(r.URL.RawQuery)
	if !plain || ri == nil || r.Method != http.MethodGet || !acceptsJSON(r.Header) {
		hr.huma(humago.NewContext(hr.op, r, w))
		return
	}
	ri.operation = hr.op.OperationID
	ctx := r.Context()
	if d := hr.h.StoreTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	p, err := hr.h.gate(ctx, gateRequest{op: hr.op, authorization: r.Header.Get("Authorization"), answer: w.Header(), proxy: name})
	if err != nil {
		writeHumaErr(hr.api, huma.WithContext(humago.NewContext(hr.op, r, w), ctx), err)
		return
	}
	res, err := hr.h.recordHeartbeat(ctx, p, name)
	if err != nil {
		writeHumaErr(hr.api, huma.WithContext(humago.NewContext(hr.op, r, w), ctx), hr.h.problem(ctx, err))
		return
	}
	buf := answerBuffers.Get().(*[]byte)
	b := appendHeartbeatAnswer((*buf)[:0], res)
	w.Header()[headerContentType] = contentTypeJSON
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	*buf = b
	answerBuffers.Put(buf)
}

// answerBuffers are the buffers heartbeat answers are written into.
var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// headerContentType is Content-Type in canonical form; contentTypeJSON its
// value for JSON answers, shared by every answer (net/http never modifies
// a header's value slice).
const headerContentType = "Content-Type"

var contentTypeJSON = []string{"application/json"}

// plainHeartbeatName returns the proxy name of a heartbeat query that
// holds exactly one parameter, name, whose value needs no unescaping and
// is a valid proxy name; false for anything else.
func plainHeartbeatName(rawQuery string) (string, bool) {
	name, ok := strings.CutPrefix(rawQuery, "name=")
	if !ok || !hub.ValidName(name) {
		return "", false
	}
	return name, true
}

// acceptsJSON reports whether the request's Accept field (absent, */*, or
// naming JSON) takes Huma's default JSON answer.
func acceptsJSON(h http.Header) bool {
	accept := h["Accept"]
	switch {
	case len(accept) == 0:
		return true
	case len(accept) > 1:
		return false
	}
	return accept[0] == "*/*" || accept[0] == "application/json"
}

// appendHeartbeatAnswer appends the heartbeat's answer (api.HeartbeatResult)
// to b as Huma's JSON format writes it: encoding/json's bytes, HTML
// characters unescaped, and a newline.
func appendHeartbeatAnswer(b []byte, res hub.HeartbeatResult) []byte {
	b = append(b, `{"success":true,"name":`...)
	b = appendJSONString(b, res.Proxy.Name)
	b = append(b, `,"remote_ip":"`...)
	b = res.Proxy.IP.AppendTo(b)
	if res.Changed {
		b = append(b, `","ip_changed":true,"previous_ip":"`...)
		b = res.PreviousIP.AppendTo(b)
		b = append(b, `","timestamp":`...)
	} else {
		b = append(b, `","ip_changed":false,"timestamp":`...)
	}
	if res.Proxy.LastSeen.IsZero() {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = res.Proxy.LastSeen.UTC().AppendFormat(b, api.TimeLayout)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string the way encoding/json writes
// it with HTML escaping off. Proxy names never need escaping (hub.ValidName);
// anything that does goes through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			var enc bytes.Buffer
			e := json.NewEncoder(&enc)
			e.SetEscapeHTML(false)
			_ = e.Encode(s)
			return append(b, bytes.TrimSuffix(enc.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
