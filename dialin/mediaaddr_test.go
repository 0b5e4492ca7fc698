package dialin

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// TestMediaAddrs: where a call's RTP binds and what its SDP names, for the
// address its INVITE arrived on. sip.rtp_ip and the public IP win over the
// arrival address; without an arrival address the UDP listener's host is
// used. No case here binds or sends anything.
func TestMediaAddrs(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		name            string
		rtpIP           string
		public          []netip.Addr
		listen, arrival string
		bind, announce  string
	}{
		{"arrival", "", nil, "[::]:5060", "127.0.0.2", "127.0.0.2", "127.0.0.2"},
		{"arrival over IPv6", "", nil, "[::]:5060", "::1", "::1", "::1"},
		{"rtp_ip", "127.0.0.9", nil, "[::]:5060", "127.0.0.2", "127.0.0.9", "127.0.0.9"},
		{"rtp_ip on every address", "0.0.0.0", nil, "[::]:5060", "127.0.0.2", "0.0.0.0", "127.0.0.2"},
		{"public IP", "", []netip.Addr{ip("203.0.113.7")}, "[::]:5060", "10.0.0.5", "10.0.0.5", "203.0.113.7"},
		{"public IP and rtp_ip", "10.0.0.6", []netip.Addr{ip("203.0.113.7")}, "[::]:5060", "10.0.0.5", "10.0.0.6", "203.0.113.7"},
		{"no arrival: the listener's host", "", nil, "127.0.0.4:5060", "", "127.0.0.4", "127.0.0.4"},
	} {
		s := &Server{cfg: Config{PublicIPs: tc.public}, addrs: map[string]netip.AddrPort{"udp": netip.MustParseAddrPort(tc.listen)}}
		if tc.rtpIP != "" {
			s.cfg.RTPIP = ip(tc.rtpIP)
		}
		var arrival netip.Addr
		if tc.arrival != "" {
			arrival = ip(tc.arrival)
		}
		bind, announce := s.mediaAddrs(arrival)
		if bind.String() != tc.bind || announce.String() != tc.announce {
			t.Errorf("%s: bind %s, announce %s; want %s, %s", tc.name, bind, announce, tc.bind, tc.announce)
		}
	}
}

// TestArrivalStamp: a request that passes the gate carries the address it
// arrived on, once; what the peer wrote in that field is gone, so no peer
// chooses where its media goes.
func TestArrivalStamp(t *testing.T) {
	msg := "OPTIONS sip:3500@127.0.0.2 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-stamp\r\n" +
		"Confd-Arrival: 192.0.2.9:5060\r\n" +
		"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:3500@127.0.0.2>\r\nCall-ID: stamp\r\nCSeq: 1 OPTIONS\r\n" +
		"confd-arrival: 192.0.2.10:5060\r\nContent-Length: 0\r\n\r\n"
	local := netip.MustParseAddrPort("127.0.0.2:5060")
	v := inspectDatagram([]byte(msg), wireLimits{maxMessage: 65000, maxHeader: 16384, maxFields: 100}, local)
	if v.pass == nil {
		t.Fatalf("refused: %s", v.why)
	}
	if n := strings.Count(strings.ToLower(string(v.pass)), "confd-arrival:"); n != 1 {
		t.Fatalf("%d arrival fields:\n%s", n, v.pass)
	}
	m, err := sip.ParseMessage(v.pass)
	if err != nil {
		t.Fatal(err)
	}
	if got := arrivalOf(m.(*sip.Request)); got != local {
		t.Errorf("arrival %s, want %s", got, local)
	}
}

// TestDstConnBounded: the peers a wildcard socket remembers stay within
// two generations, and the newest is always found.
func TestDstConnBounded(t *testing.T) {
	d := &dstConn{cur: map[netip.AddrPort]netip.Addr{}, older: map[netip.AddrPort]netip.Addr{}}
	local := netip.MustParseAddr("127.0.0.2")
	for i := range 3*maxPeers + 7 {
		peer := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 5060)
		d.remember(peer, local)
		if got, ok := d.localFor(peer); !ok || got != local {
			t.Fatalf("peer %d forgotten at once", i)
		}
	}
	if n := len(d.cur) + len(d.older); n > 2*maxPeers {
		t.Errorf("%d peers remembered, want at most %d", n, 2*maxPeers)
	}
}
