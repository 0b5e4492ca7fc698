package whip

import (
	"net/http"
	"strings"
	"testing"
)

// TestLinks: one Link header per ICE server URL (RFC 9725 §4.6), the
// credential as quoted-string parameters, for the host the client used.
func TestLinks(t *testing.T) {
	var asked string
	s := New(Config{ICEServers: func(host string) []ICEServer {
		asked = host
		return []ICEServer{
			{URLs: []string{"turn:h:3478?transport=udp", "turns:h:443?transport=tcp"}, Username: "1:u", Credential: `a"b\c`},
			{URLs: []string{"stun:stun.example.org"}},
		}
	}})
	h := http.Header{}
	s.links(h, "confd.example.org:443")
	want := []string{
		`<turn:h:3478?transport=udp>; rel="ice-server"; username="1:u"; credential="a\"b\\c"; credential-type="password"`,
		`<turns:h:443?transport=tcp>; rel="ice-server"; username="1:u"; credential="a\"b\\c"; credential-type="password"`,
		`<stun:stun.example.org>; rel="ice-server"`,
	}
	if got := h.Values("Link"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Link:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if asked != "confd.example.org:443" {
		t.Errorf("the ICE servers were asked for host %q", asked)
	}
}
