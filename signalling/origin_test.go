package signalling

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOriginCheck: clients without an Origin and pages of the server's own
// host are admitted; other browser origins are refused unless configured.
func TestOriginCheck(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)

	env := startServer(t, nil)
	host := strings.TrimPrefix(env.ts.URL, "http://")
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"", http.StatusSwitchingProtocols},
		{"http://" + host, http.StatusSwitchingProtocols},
		{"https://" + host, http.StatusSwitchingProtocols},
		{"http://" + strings.ToUpper(host), http.StatusSwitchingProtocols},
		{"http://evil.example", http.StatusForbidden},
		{"http://127.0.0.1:1", http.StatusForbidden},
		{"null", http.StatusForbidden},
	} {
		if got := dialStatus(ctx, t, env.url, tc.origin); got != tc.want {
			t.Errorf("origin %q: status %d, want %d", tc.origin, got, tc.want)
		}
	}

	// With AllowedOrigins, only those (the server's own host is not implied).
	env = startServer(t, func(c *Config) {
		c.AllowedOrigins = []string{"https://app.example/", "http://localhost:8080"}
	})
	host = strings.TrimPrefix(env.ts.URL, "http://")
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"", http.StatusSwitchingProtocols},
		{"https://app.example", http.StatusSwitchingProtocols},
		{"HTTPS://APP.EXAMPLE", http.StatusSwitchingProtocols},
		{"http://localhost:8080", http.StatusSwitchingProtocols},
		{"http://app.example", http.StatusForbidden},
		{"http://localhost:8081", http.StatusForbidden},
		{"http://" + host, http.StatusForbidden},
	} {
		if got := dialStatus(ctx, t, env.url, tc.origin); got != tc.want {
			t.Errorf("allowed origins, origin %q: status %d, want %d", tc.origin, got, tc.want)
		}
	}

	// "*" admits every origin.
	env = startServer(t, func(c *Config) { c.AllowedOrigins = []string{"*"} })
	if got := dialStatus(ctx, t, env.url, "http://evil.example"); got != http.StatusSwitchingProtocols {
		t.Errorf("wildcard: status %d", got)
	}

	// A plain HTTP request gets 426, not a session.
	resp, err := http.Get(env.ts.URL + "/verto")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET: status %d, want 426", resp.StatusCode)
	}
}

// TestPublicOrigins: behind a reverse proxy that does not forward Host,
// the page's origin is not the request's host; a configured public origin
// is admitted as the same host would be, and others still are not.
func TestPublicOrigins(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	env := startServer(t, func(c *Config) { c.PublicOrigins = []string{"https://confd.example.org/"} })
	host := strings.TrimPrefix(env.ts.URL, "http://")
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://confd.example.org", http.StatusSwitchingProtocols},
		{"HTTPS://CONFD.EXAMPLE.ORG", http.StatusSwitchingProtocols},
		{"http://" + host, http.StatusSwitchingProtocols},
		{"http://confd.example.org", http.StatusForbidden},
		{"https://evil.example", http.StatusForbidden},
	} {
		if got := dialStatus(ctx, t, env.url, tc.origin); got != tc.want {
			t.Errorf("origin %q: status %d, want %d", tc.origin, got, tc.want)
		}
	}
}
