package clientip

import (
	"context"
	"net/netip"
)

type ctxKey struct{}

// Resolved is a context carrying a resolution, as WithResult returns it.
// A request's own state may embed one (by value, made by NewResolved) and
// be the request's context, so carrying the resolution costs no
// allocation of its own; such a type must pass Value calls for keys it
// does not know to the embedded Resolved.
type Resolved struct {
	context.Context
	res Result
	err error
}

// NewResolved returns a Resolved that extends parent with res and err, as
// returned by Resolver.Resolve; see WithResult.
func NewResolved(parent context.Context, res Result, err error) Resolved {
	if err != nil {
		res.Client = netip.Addr{}
		res.ViaForwarded = false
	}
	return Resolved{Context: parent, res: res, err: err}
}

// Value answers FromContext's key with the resolution, every other key
// from the context it extends.
func (c *Resolved) Value(key any) any {
	if key == any(ctxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// WithResult returns a copy of ctx that carries the resolution res and err, as
// returned by Resolver.Resolve. When err is non-nil, res.Client and
// res.ViaForwarded are cleared before storing, so a caller that forgets to
// check the error can never see a client address from a failed resolution.
func WithResult(ctx context.Context, res Result, err error) context.Context {
	r := NewResolved(ctx, res, err)
	return &r
}

// FromContext returns the resolution stored by WithResult. If nothing was
// stored (or ctx is nil) it returns a zero Result and ErrNotResolved.
func FromContext(ctx context.Context) (Result, error) {
	if ctx == nil {
		return Result{}, ErrNotResolved
	}
	s, ok := ctx.Value(ctxKey{}).(*Resolved)
	if !ok || s == nil {
		return Result{}, ErrNotResolved
	}
	return s.res, s.err
}
