package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
)

// DebugConfig turns on diagnostics, each off by default.
type DebugConfig struct {
	// Pprof serves Go's profiler (net/http/pprof) under /debug/pprof/ on
	// the plain HTTP listener only, and only to clients on this machine;
	// `make bench` takes confd's CPU profiles through it.
	Pprof bool `yaml:"pprof"`
}

// debugHandler is next, plus the profiler when debug.pprof is set.
func (a *app) debugHandler(next http.Handler) http.Handler {
	if !a.cfg.Debug.Pprof {
		return next
	}
	prof := http.NewServeMux()
	prof.HandleFunc("/debug/pprof/", pprof.Index)
	prof.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	prof.HandleFunc("/debug/pprof/profile", pprof.Profile)
	prof.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	prof.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux := http.NewServeMux()
	mux.Handle("/debug/pprof/", loopbackOnly(prof))
	mux.Handle("/", next)
	return mux
}

// loopbackOnly refuses requests from other machines with 403, whatever
// address the listener was given.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.IsLoopback() {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
