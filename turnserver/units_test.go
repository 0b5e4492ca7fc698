package turnserver

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the scheme's hash
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/confd/confd/medianet"
)

// TestCredentialScheme: the username is "<expiry>:<user>" and the
// password the base64 HMAC-SHA1 of it under the secret, as coturn's
// use-auth-secret computes it.
func TestCredentialScheme(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := NewCredentials("s3cret", time.Hour)
	c.now = func() time.Time { return now }
	cred := c.Mint("room:3500")
	if want := strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + ":room_3500"; cred.Username != want {
		t.Errorf("username %q, want %q", cred.Username, want)
	}
	mac := hmac.New(sha1.New, []byte("s3cret"))
	mac.Write([]byte(cred.Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); cred.Password != want {
		t.Errorf("password %q, want %q", cred.Password, want)
	}
	if user, pw, err := c.check(cred.Username, false); err != nil || user != "room_3500" || pw != cred.Password {
		t.Errorf("check = %q %q %v", user, pw, err)
	}
	now = now.Add(2 * time.Hour)
	if _, _, err := c.check(cred.Username, false); err != ErrExpired {
		t.Errorf("expired: %v", err)
	}
	if _, _, err := c.check(cred.Username, true); err != nil {
		t.Errorf("expired, allowed: %v", err)
	}
	for _, bad := range []string{"", "alice", "x:alice", "123:"} {
		if _, _, err := c.check(bad, true); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if a, b := c.Mint(""), c.Mint(""); a.Username == b.Username || !strings.Contains(a.Username, ":s") {
		t.Errorf("random users %q, %q", a.Username, b.Username)
	}
}

// TestBucket: a second's worth passes at once, then the rate.
func TestBucket(t *testing.T) {
	b := bucket{rate: 1000}
	t0 := time.Unix(100, 0)
	if !b.take(600, t0) || !b.take(400, t0) || b.take(1, t0) {
		t.Fatal("the burst is not one second's worth")
	}
	if b.take(200, t0.Add(100*time.Millisecond)) || !b.take(100, t0.Add(100*time.Millisecond)) {
		t.Error("100 ms should refill 100 bytes")
	}
	if !b.take(1000, t0.Add(time.Hour)) || b.take(1, t0.Add(time.Hour)) {
		t.Error("an idle hour holds one second's worth, no more")
	}
	free := bucket{}
	if !free.take(1<<30, t0) {
		t.Error("rate 0 limits")
	}
}

// TestQuota: the quotas count pending and made allocations; an ended one
// and a pending one that never came give their place back.
func TestQuota(t *testing.T) {
	q := newQuota(3, 2, 10)
	t0 := time.Unix(100, 0)
	src := func(port int) net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port} }
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3478}
	if !q.allow("a", src(1), t0) || !q.allow("a", src(2), t0) || q.allow("a", src(3), t0) {
		t.Fatal("per user")
	}
	q.made(src(1), dst, "a")
	if !q.allow("b", src(4), t0) || q.allow("c", src(5), t0) {
		t.Fatal("in all")
	}
	q.ended(src(1), dst)
	if !q.allow("c", src(5), t0) {
		t.Fatal("an ended allocation holds its place")
	}
	// src(2), src(4) and src(5) never came: after pendingFor they are forgotten.
	if q.count() != 3 || !q.allow("d", src(6), t0.Add(2*pendingFor)) || q.count() != 1 {
		t.Errorf("count %d after the pending ones expired", q.count())
	}
	ip := newQuota(10, 10, 1)
	if !ip.allow("a", src(1), t0) || ip.allow("b", src(2), t0) || !ip.allow("b", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3), Port: 2}, t0) {
		t.Error("per address")
	}
}

// TestURLs: the advert's URLs (UDP, TCP, TLS), or the configured ones.
func TestURLs(t *testing.T) {
	for _, tc := range []struct {
		a    Advert
		want string
	}{
		{Advert{Host: "confd.example.org", UDPPort: 3478, TCPPort: 3478, TLSPort: 443},
			"turn:confd.example.org:3478?transport=udp turn:confd.example.org:3478?transport=tcp turns:confd.example.org:443?transport=tcp"},
		{Advert{Host: "[2001:db8::1]", TLSPort: 8443}, "turns:[2001:db8::1]:8443?transport=tcp"},
		{Advert{Host: "ignored", UDPPort: 1, URLs: []string{"turn:fixed:3478"}}, "turn:fixed:3478"},
	} {
		if got := strings.Join(tc.a.urls(), " "); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.a, got, tc.want)
		}
	}
}

// TestXORPeerIP reads both families back.
func TestXORPeerIP(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "203.0.113.7", "2001:db8::7"} {
		ip := netip.MustParseAddr(s)
		m := &stun.Message{}
		m.TransactionID = [12]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
		m.WriteHeader()
		if err := peerAddr(netip.AddrPortFrom(ip, 5000)).AddTo(m); err != nil {
			t.Fatal(err)
		}
		v, _ := m.Get(stun.AttrXORPeerAddress)
		if got, ok := xorPeerIP(v, m.TransactionID); !ok || got != ip {
			t.Errorf("%s read back as %v %v", s, got, ok)
		}
	}
	if _, ok := xorPeerIP([]byte{0, 1, 0}, [12]byte{}); ok {
		t.Error("a short value read")
	}
}

// TestFrameLen cuts the stream framings.
func TestFrameLen(t *testing.T) {
	stunHdr := []byte{0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42}
	for _, tc := range []struct {
		in   []byte
		want int
		err  bool
	}{
		{nil, 0, false},
		{[]byte{0x40, 0x01, 0x00}, 0, false},
		{[]byte{0x40, 0x01, 0x00, 0x05}, 12, false},
		{stunHdr, 28, false},
		{stunHdr[:5], 28, false},
		{[]byte{0x00, 0x03, 0x00, 0x06}, 0, true},
		{[]byte{0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x43}, 0, true},
		{[]byte("GET / HTTP/1.1"), 0, true},
		{[]byte{0x80, 0x00, 0x00, 0x00}, 0, true},
	} {
		got, err := frameLen(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("frameLen(% x) = %d, %v", tc.in, got, err)
		}
	}
}

// FuzzFilter: the request filter and the stream framing take any bytes
// without panicking, and a refused frame is never also passed.
func FuzzFilter(f *testing.F) {
	m, _ := stun.Build(stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest),
		udpTransport(), stun.NewUsername("1:u"), stun.NewRealm("confd"), stun.NewNonce("n"),
		stun.NewLongTermIntegrity("1:u", "confd", "p"))
	f.Add(m.Raw)
	p, _ := stun.Build(stun.TransactionID, stun.NewType(stun.MethodCreatePermission, stun.ClassRequest),
		peerAddr(netip.MustParseAddrPort("203.0.113.7:9")), stun.NewUsername("1:u"), stun.NewRealm("confd"),
		stun.NewNonce("n"), stun.NewLongTermIntegrity("1:u", "confd", "p"))
	f.Add(p.Raw)
	f.Add([]byte{0x40, 0x01, 0x00, 0x02, 0xAA, 0xBB})
	mn, err := medianet.New(medianet.Config{LoopbackOnly: true})
	if err != nil {
		f.Fatal(err)
	}
	s := &Server{cfg: Config{Realm: "confd", Policy: mn}, creds: NewCredentials("p", time.Hour)}
	flt := &filter{s: s}
	f.Fuzz(func(t *testing.T, b []byte) {
		reply, pass := flt.inspect(b)
		if reply != nil && pass {
			t.Fatal("answered and passed")
		}
		if n, err := frameLen(b); err == nil && (n < 0 || n > maxFrame) {
			t.Fatalf("frame length %d", n)
		}
	})
}

// TestPacketPathAllocatesNothing: relaying a packet each way through a
// relay socket, and a client's ChannelData through the TURN socket and a
// TCP connection, allocates nothing in confd's code.
func TestPacketPathAllocatesNothing(t *testing.T) {
	mn, err := medianet.New(medianet.Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{Realm: "confd", Policy: mn}, creds: NewCredentials("p", time.Hour)}
	loop := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	mc, err := mn.ListenUDP("udp4", loop)
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	media := mc.(sock)
	rs, err := net.ListenUDP("udp4", loop)
	if err != nil {
		t.Fatal(err)
	}
	rc := &relayConn{UDPConn: rs, s: s}
	rc.in.rate, rc.out.rate = 1e12, 1e12
	defer rc.UDPConn.Close()
	relay, mediaAddr := addrPort(rs), mc.LocalAddr()
	pkt, buf := make([]byte, 1200), make([]byte, 1600)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := media.WriteToUDPAddrPort(pkt, relay); err != nil {
			t.Fatal(err)
		}
		if _, _, err := rc.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
		if _, err := rc.WriteTo(pkt, mediaAddr); err != nil {
			t.Fatal(err)
		}
		if _, _, err := media.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("relay: %.1f allocations per round trip, want 0", allocs)
	}

	chanData := []byte{0x40, 0x01, 0x04, 0xB0}
	chanData = append(chanData, pkt...)
	us, err := net.ListenUDP("udp4", loop)
	if err != nil {
		t.Fatal(err)
	}
	pc := newPacketConn(us, s)
	defer us.Close()
	cl := stranger(t)
	allocs = testing.AllocsPerRun(200, func() {
		if _, err := cl.WriteToUDPAddrPort(chanData, addrPort(us)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := pc.ReadFrom(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("udp: %.1f allocations per ChannelData, want 0", allocs)
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tcpClient, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tcpClient.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cc := &clientConn{Conn: server, s: s, f: filter{s: s}, idle: time.Minute, release: func() {}}
	defer cc.Close()
	binary.BigEndian.PutUint16(chanData[2:], uint16(len(pkt)))
	allocs = testing.AllocsPerRun(200, func() {
		if _, err := tcpClient.Write(chanData); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(chanData); {
			n, err := cc.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Errorf("tcp: %.1f allocations per ChannelData, want 0", allocs)
	}
}
