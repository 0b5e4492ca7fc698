package netmux

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
)

type tlsStateKey struct{}

// ConnContext is an http.Server's ConnContext for connections from
// [Mux.HTTP]: net/http fills Request.TLS only for a *tls.Conn, so the
// state travels in the connection's context and [WithTLS] puts it back.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if mc, ok := c.(*Conn); ok {
		if st, ok := mc.ConnectionState(); ok {
			return context.WithValue(ctx, tlsStateKey{}, &st)
		}
	}
	return ctx
}

// WithTLS sets Request.TLS from the state [ConnContext] kept, so handlers
// see an HTTPS request as net/http would show it.
func WithTLS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r.TLS = st
			}
		}
		next.ServeHTTP(w, r)
	})
}
