package dialin

import (
	"net/netip"
	"testing"
)

// TestAnnounce: behind 1:1 NAT the public address of the right family is
// announced (SDP c=, Contact); otherwise the bound address itself.
func TestAnnounce(t *testing.T) {
	s := &Server{cfg: Config{PublicIPs: []netip.Addr{netip.MustParseAddr("2001:db8::7"), netip.MustParseAddr("203.0.113.7")}}}
	for local, want := range map[string]string{
		"10.0.0.5": "203.0.113.7",
		"fd00::5":  "2001:db8::7",
		"0.0.0.0":  "203.0.113.7",
	} {
		if got := s.announce(netip.MustParseAddr(local)).String(); got != want {
			t.Errorf("announce(%s) = %s, want %s", local, got, want)
		}
	}
	s.cfg.PublicIPs = nil
	if got := s.announce(netip.MustParseAddr("127.0.0.1")).String(); got != "127.0.0.1" {
		t.Errorf("announce without public IPs = %s", got)
	}
}
