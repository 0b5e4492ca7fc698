package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOnePortConfig: the turn: section (on when present, its defaults,
// enabled: false), the proxy settings and public_ips_mode, and their
// errors.
func TestOnePortConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, `
listen:
  https: ":8443"
webrtc:
  ice_tcp: "0.0.0.0:8443"
  public_ips: [203.0.113.7]
  public_ips_mode: replace
web:
  public_origin: https://confd.example.org
  trusted_proxies: [127.0.0.1, "10.0.0.0/8"]
turn:
  secret: s3cret
  credential_ttl: 30m
  max_allocations_per_ip: 7
`)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.turnEnabled() || c.TURN.listen() != ":3478" || !c.TURN.tlsOn() || c.TURN.CredentialTTL != 30*time.Minute || c.TURN.MaxAllocationsPerIP != 7 {
		t.Errorf("turn = %+v", c.TURN)
	}
	if !c.iceTCPShared() || !c.mediaConfig().PublicIPsReplace {
		t.Errorf("ice_tcp shared %v, media %+v", c.iceTCPShared(), c.mediaConfig())
	}
	if vc := c.vertoConfig(); len(vc.PublicOrigins) != 1 || vc.PublicOrigins[0] != "https://confd.example.org" {
		t.Errorf("public origins %v", vc.PublicOrigins)
	}
	off := filepath.Join(t.TempDir(), "off.yaml")
	writeFile(t, off, "turn:\n  enabled: false\n  secret: x\n")
	if c, err := loadConfig(off); err != nil || c.turnEnabled() {
		t.Errorf("enabled: false: %v %v", c.turnEnabled(), err)
	}
	if c, err := loadConfig(""); err != nil || c.turnEnabled() {
		t.Errorf("no turn section: on=%v %v", c.turnEnabled(), err)
	}

	for name, body := range map[string]string{
		"relay ip unspecified": "turn:\n  relay_ip: 0.0.0.0\n",
		"relay ip not an ip":   "turn:\n  relay_ip: relay.example.org\n",
		"no turn listener":     "listen:\n  http: 127.0.0.1:0\nturn:\n  listen: \"\"\n",
		"loopback relay":       "webrtc:\n  include_loopback: false\nturn: {}\n",
		"negative limit":       "turn:\n  max_allocations: -1\n",
		"public ips mode":      "webrtc:\n  public_ips_mode: both\n",
		"public origin path":   "web:\n  public_origin: https://confd.example.org/meet\n",
		"public origin star":   "web:\n  public_origin: \"*\"\n",
		"trusted proxy":        "web:\n  trusted_proxies: [proxy.local]\n",
		"negative handshakes":  "web:\n  max_handshakes: -2\n",
		"unknown turn key":     "turn:\n  realms: x\n",
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			writeFile(t, p, body)
			if _, err := loadConfig(p); err == nil {
				t.Fatalf("loadConfig accepted %q", body)
			}
		})
	}
}

func TestSameListen(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{":8443", "0.0.0.0:8443", true},
		{":8443", "[::]:8443", true},
		{"127.0.0.1:8443", "127.0.0.1:8443", true},
		{"127.0.0.1:8443", "127.0.0.2:8443", false},
		{":8443", ":8444", false},
		{"nonsense", ":8443", false},
	} {
		if got := sameListen(tc.a, tc.b); got != tc.want {
			t.Errorf("sameListen(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

// TestForwardedHost: from a trusted proxy, X-Forwarded-Host (else
// Forwarded's host=) becomes the request's Host; from anyone else the
// headers change nothing.
func TestForwardedHost(t *testing.T) {
	trusted, err := WebConfig{TrustedProxies: []string{"10.0.0.0/8", "::1"}}.trustedProxies()
	if err != nil {
		t.Fatal(err)
	}
	var seen string
	h := forwarded(trusted, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.Host }))
	for _, tc := range []struct {
		remote, header, value, want string
	}{
		{"10.1.2.3:5555", "X-Forwarded-Host", "confd.example.org, inner", "confd.example.org"},
		{"[::1]:5555", "Forwarded", `for=192.0.2.1;host="confd.example.org";proto=https`, "confd.example.org"},
		{"192.0.2.1:5555", "X-Forwarded-Host", "evil.example", "127.0.0.1:8080"},
		{"10.1.2.3:5555", "", "", "127.0.0.1:8080"},
	} {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/verto", nil)
		r.RemoteAddr = tc.remote
		if tc.header != "" {
			r.Header.Set(tc.header, tc.value)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if seen != tc.want {
			t.Errorf("%s %s: %q: Host %q, want %q", tc.remote, tc.header, tc.value, seen, tc.want)
		}
	}
}

// TestREADMEConfiguration: the README's configuration reference loads,
// the turn: section and the new web and webrtc keys with it.
func TestREADMEConfiguration(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Configuration")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no yaml in the README's Configuration section")
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, block)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatalf("the README's configuration: %v", err)
	}
	if !c.turnEnabled() || c.TURN.MaxAllocationsPerIP != 50 || c.WebRTC.PublicIPsMode != "srflx" || c.Web.MaxHandshakes != 256 {
		t.Errorf("turn %+v, webrtc %+v, web %+v", c.TURN, c.WebRTC, c.Web)
	}
}
