package control

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestKeyring: keys match by content only, each to its own name; short,
// unnamed and twice-named keys are refused at start.
func TestKeyring(t *testing.T) {
	kr, err := newKeyring([]Key{{Name: "ops", Key: "0123456789abcdef"}, {Name: "crm", Key: "fedcba9876543210-longer"}})
	if err != nil {
		t.Fatal(err)
	}
	for cand, want := range map[string]string{"0123456789abcdef": "ops", "fedcba9876543210-longer": "crm"} {
		if name, ok := kr.match(cand); !ok || name != want {
			t.Errorf("match(%q) = %q, %v", cand, name, ok)
		}
	}
	for _, cand := range []string{"", "0123456789abcde", "0123456789abcdef0", "ops", "0123456789ABCDEF"} {
		if name, ok := kr.match(cand); ok {
			t.Errorf("match(%q) = %q", cand, name)
		}
	}
	for _, keys := range [][]Key{
		{{Name: "", Key: "0123456789abcdef"}},
		{{Name: "a", Key: "short"}},
		{{Name: "a", Key: "0123456789abcdef"}, {Name: "a", Key: "fedcba9876543210"}},
	} {
		if _, err := newKeyring(keys); err == nil {
			t.Errorf("%v accepted", keys)
		}
	}
}

// TestAuthentication: only "Bearer <configured key>" gets in; everything
// else is 401 with a JSON reason, whatever the path; the document needs no
// key. The key never appears in an answer.
func TestAuthentication(t *testing.T) {
	h := testAPI(t).Handler()
	do := func(path, auth string) (*httptest.ResponseRecorder, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec, rec.Body.String()
	}
	for _, auth := range []string{"", "Bearer", "Bearer ", "Basic 0123456789abcdef", "Bearer 0123456789abcdeX", "0123456789abcdef"} {
		for _, path := range []string{"/rooms", "/rooms/9999", "/events"} {
			rec, body := do(path, auth)
			if rec.Code != http.StatusUnauthorized || !strings.Contains(body, `"error":"unauthorized"`) || rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s with %q = %d %s", path, auth, rec.Code, body)
			}
		}
	}
	for _, auth := range []string{"Bearer 0123456789abcdef", "bearer 0123456789abcdef"} {
		if rec, body := do("/rooms", auth); rec.Code != http.StatusOK || strings.Contains(body, "0123456789abcdef") {
			t.Errorf("GET /rooms with %q = %d %s", auth, rec.Code, body)
		}
	}
	if rec, _ := do("/openapi.json", ""); rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("GET /openapi.json = %d", rec.Code)
	}
	if rec, body := do("/nowhere", "Bearer 0123456789abcdef"); rec.Code != http.StatusNotFound || !strings.Contains(body, `"error":"not_found"`) {
		t.Errorf("GET /nowhere = %d %s", rec.Code, body)
	}
	rec := httptest.NewRecorder()
	Off().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/rooms", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"error":"not_found"`) {
		t.Errorf("the API off: %d %s", rec.Code, rec.Body.String())
	}
}

// TestBannerValue: a banner reaches vid-banner escaped, and one that reads
// like the clearing command is still shown.
func TestBannerValue(t *testing.T) {
	for text, want := range map[string]string{"Hello world": "Hello%20world", "100%": "100%25", "clear": "%63lear", "reset": "%72eset", "a/b": "a%2Fb"} {
		if got := bannerValue(text); got != want {
			t.Errorf("bannerValue(%q) = %q, want %q", text, got, want)
		}
	}
}
