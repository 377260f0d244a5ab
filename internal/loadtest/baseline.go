package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/proxyhub/proxyhub/api"
)

// baselineBody is the fixed answer of the baseline handler: a heartbeat
// answer of the size the hub sends for a mid-fleet proxy.
func baselineBody(proxies int) []byte {
	i := proxies / 2
	b, _ := json.Marshal(api.HeartbeatResult{
		Success: true, Name: ProxyName(i), RemoteIP: ipString(ipBase + uint32(i)%ipSpace),
		Timestamp: api.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)),
	})
	return append(b, '\n')
}

// startBaseline serves a bare net/http handler that answers every request
// with body on 127.0.0.1:0: the ceiling for any Go HTTP service on this
// machine, loaded by the same engine as the hub.
func startBaseline(body []byte) (base string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := baselineServer(body)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// baselineServer is the bare net/http server of the baseline: every
// request answered with body as JSON.
func baselineServer(body []byte) *http.Server {
	ct := []string{"application/json"}
	return &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = ct
			_, _ = w.Write(body)
		}),
	}
}

// ServeBaseline serves the baseline handler (the answer of a fleet of
// proxies) on addr until ctx ends: the same ceiling for other load
// generators, such as wrk in scripts/bench.sh.
func ServeBaseline(ctx context.Context, addr string, proxies int) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := baselineServer(baselineBody(proxies))
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
