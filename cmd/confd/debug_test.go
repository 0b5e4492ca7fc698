package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPprofIsOptInAndLoopbackOnly(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	get := func(a *app, remote string) int {
		req := httptest.NewRequest(http.MethodGet, "/debug/pprof/cmdline", nil)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		a.debugHandler(next).ServeHTTP(rec, req)
		return rec.Code
	}
	off := &app{}
	if got := get(off, "127.0.0.1:5000"); got != http.StatusTeapot {
		t.Errorf("pprof off: got %d, want the request passed on", got)
	}
	on := &app{cfg: Config{Debug: DebugConfig{Pprof: true}}}
	if got := get(on, "127.0.0.1:5000"); got != http.StatusOK {
		t.Errorf("pprof on, loopback client: got %d, want 200", got)
	}
	if got := get(on, "[::1]:5000"); got != http.StatusOK {
		t.Errorf("pprof on, ::1 client: got %d, want 200", got)
	}
	if got := get(on, "192.0.2.1:5000"); got != http.StatusForbidden {
		t.Errorf("pprof on, remote client: got %d, want 403", got)
	}
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	rec := httptest.NewRecorder()
	on.debugHandler(next).ServeHTTP(rec, req)
	if rec.Code != http.StatusTeapot {
		t.Errorf("pprof on: other paths got %d, want them passed on", rec.Code)
	}
}
