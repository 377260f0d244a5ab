package clientip

import (
	"context"
	"net/netip"
)

type ctxKey struct{}

type stored struct {
	res Result
	err error
}

// WithResult returns a copy of ctx that carries the resolution res and err, as
// returned by Resolver.Resolve. When err is non-nil, res.Client and
// res.ViaForwarded are cleared before storing, so a caller that forgets to
// check the error can never see a client address from a failed resolution.
func WithResult(ctx context.Context, res Result, err error) context.Context {
	if err != nil {
		res.Client = netip.Addr{}
		res.ViaForwarded = false
	}
	return context.WithValue(ctx, ctxKey{}, &stored{res: res, err: err})
}

// FromContext returns the resolution stored by WithResult. If nothing was
// stored (or ctx is nil) it returns a zero Result and ErrNotResolved.
func FromContext(ctx context.Context) (Result, error) {
	if ctx == nil {
		return Result{}, ErrNotResolved
	}
	s, ok := ctx.Value(ctxKey{}).(*stored)
	if !ok || s == nil {
		return Result{}, ErrNotResolved
	}
	return s.res, s.err
}
