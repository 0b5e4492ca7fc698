package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestUIEmbed: a host page on another origin embeds a room with embed.js
// (testdata/browser/ui_embed.mjs): it gets ready, joined and
// participantJoined, mute() gives muted, chat goes both ways and leave()
// gives left; the same page from an origin that is not in
// web.embed_origins cannot frame the meeting. The host pages are served by
// the script on two listeners this test opens, so the allowed origin is
// known before confd starts.
func TestUIEmbed(t *testing.T) {
	dir, chromium := browserHarness(t)
	allowed, allowedFile := listenFile(t)
	_, deniedFile := listenFile(t)
	const secret = "embed-test-secret"
	a := startTestApp(t, func(c *Config) {
		c.Web.EmbedOrigins = []string{fmt.Sprintf("http://localhost:%d", allowed)}
		c.Verto.TokenSecret = secret
	})
	// The host site's backend signs a join token: a moderator, with a name.
	token := signJoinToken(t, secret, map[string]any{
		"room": "3500", "name": "Erin (embedded)", "role": "moderator", "exp": time.Now().Add(time.Hour).Unix(),
	})
	out := uiOut(t, dir, "embed")
	base := "http://" + a.addrs["http"].String()
	res := runUIScript(t, dir, 180*time.Second, []*os.File{allowedFile, deniedFile}, "ui_embed.mjs",
		"--base", base, "--room", "3500", "--allowed-fd", "3", "--denied-fd", "4", "--token", token,
		"--out", out, "--timeout-ms", "150000", "--chromium", chromium)
	for _, step := range []string{"joined", "participantJoined", "muted", "chat", "origin", "left", "denied"} {
		if _, ok := res.Steps[step]; !ok {
			t.Errorf("step %s did not run", step)
		}
	}
	var joined struct {
		Joined struct {
			Name      string `json:"name"`
			Moderator bool   `json:"moderator"`
		} `json:"joined"`
	}
	if err := json.Unmarshal(res.Steps["joined"], &joined); err != nil {
		t.Fatal(err)
	}
	if !joined.Joined.Moderator || joined.Joined.Name != "Erin (embedded)" {
		t.Errorf("joined %+v: the token's moderator role and name did not apply", joined.Joined)
	}
	checkScreenshots(t, out, 1280, 760, "embed.png", "embed-denied.png")
}

// listenFile opens a loopback listener for a child process (its file) and
// returns its port.
func listenFile(t *testing.T) (int, *os.File) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close() // the child keeps the socket through its copy
	t.Cleanup(func() { _ = f.Close() })
	return port, f
}

// signJoinToken makes an HS256 join token, as an embedding site's backend
// does (docs/protocol.md, Joining).
func signJoinToken(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := header + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}
