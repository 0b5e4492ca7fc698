package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmbedOriginsConfig: web.embed_origins takes bare origins and "*";
// anything with a path, another scheme or no host is refused at start.
func TestEmbedOriginsConfig(t *testing.T) {
	for _, c := range []struct {
		origins string
		ok      bool
	}{
		{`["https://site.example"]`, true},
		{`["http://localhost:8000", "https://a.example/"]`, true},
		{`["*"]`, true},
		{`["site.example"]`, false},
		{`["https://site.example/page"]`, false},
		{`["ftp://site.example"]`, false},
		{`["https://"]`, false},
		{`["https://user@site.example"]`, false},
	} {
		path := filepath.Join(t.TempDir(), "confd.yaml")
		if err := os.WriteFile(path, []byte("web:\n  embed_origins: "+c.origins+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(path)
		if (err == nil) != c.ok {
			t.Errorf("embed_origins %s: error %v, want ok=%v", c.origins, err, c.ok)
		}
	}
}

// TestEmbedRoutes: /embed/<room> is the meeting page, framable by the
// configured origins only (CSP frame-ancestors); / is framable by confd's
// own pages only; /embed.js is served; /config.json says which rooms want
// a PIN without giving it away.
func TestEmbedRoutes(t *testing.T) {
	a := startTestApp(t, func(c *Config) {
		c.Web.EmbedOrigins = []string{"https://site.example"}
		c.Rooms = []RoomConfig{{Number: "3500", Name: "Open"}, {Number: "3600", Name: "Closed", PIN: "4321"}}
	})
	base := "http://" + a.addrs["http"].String()
	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(body)
	}
	res, body := get("/embed/3500")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `src="/app.js"`) {
		t.Fatalf("/embed/3500: status %d, body %.80q", res.StatusCode, body)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' https://site.example") {
		t.Errorf("/embed/3500: CSP %q does not let https://site.example frame it", csp)
	}
	res, _ = get("/")
	if csp := res.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors 'self'") {
		t.Errorf("/: CSP %q, want frame-ancestors 'self'", csp)
	}
	res, body = get("/embed.js")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "window.ConfdMeeting") {
		t.Errorf("/embed.js: status %d", res.StatusCode)
	}
	_, body = get("/config.json")
	if !strings.Contains(body, `{"name":"Closed","number":"3600","pin":true}`) || strings.Contains(body, "4321") {
		t.Errorf("/config.json: %s", body)
	}
}
