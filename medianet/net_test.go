package medianet

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/pion/ice/v4"
)

func newNet(t *testing.T, cfg Config) *Net {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOwnWhileOpen: a media socket's address is confd's while it is open,
// and no longer once closed; other IPs and ports never are.
func TestOwnWhileOpen(t *testing.T) {
	n := newNet(t, Config{LoopbackOnly: true})
	c, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if !n.Own(ap) || n.OpenPorts() != 1 {
		t.Fatalf("%v not owned while open (open ports %d)", ap, n.OpenPorts())
	}
	other := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), ap.Port())
	if n.Own(other) || n.OwnIP(other.Addr()) {
		t.Errorf("%v owned", other)
	}
	if n.Own(netip.AddrPortFrom(ap.Addr(), ap.Port()+1)) && ap.Port() < 65535 {
		t.Errorf("a port with no media socket is owned")
	}
	_ = c.Close()
	_ = c.Close() // a second Close does not count the port down again
	if n.Own(ap) || n.OpenPorts() != 0 {
		t.Errorf("%v owned after close (open ports %d)", ap, n.OpenPorts())
	}
}

// TestLoopbackOnlyBindsLoopback: in LoopbackOnly mode an unspecified bind
// (pion's server-reflexive sockets) lands on loopback, and only loopback
// IPs are confd's; otherwise loopback is confd's only with IncludeLoopback.
func TestLoopbackOnlyBindsLoopback(t *testing.T) {
	n := newNet(t, Config{LoopbackOnly: true, PublicIPs: []string{"203.0.113.7"}})
	for _, network := range []string{"udp4", "udp"} {
		c, err := n.ListenUDP(network, &net.UDPAddr{})
		if err != nil {
			t.Fatal(err)
		}
		if ip := c.LocalAddr().(*net.UDPAddr).IP; !ip.IsLoopback() {
			t.Errorf("%s: bound %v, want loopback", network, ip)
		}
		_ = c.Close()
	}
	pc, err := n.ListenPacket("udp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	if ip := pc.LocalAddr().(*net.UDPAddr).IP; !ip.IsLoopback() {
		t.Errorf("ListenPacket bound %v", ip)
	}
	_ = pc.Close()
	for _, ip := range n.IPs() {
		if !ip.IsLoopback() && ip != netip.MustParseAddr("203.0.113.7") {
			t.Errorf("loopback only, yet %v is confd's", ip)
		}
	}
	if !n.OwnIP(netip.MustParseAddr("127.0.0.1")) || !n.OwnIP(netip.MustParseAddr("203.0.113.7")) {
		t.Errorf("IPs %v: want loopback and the public address", n.IPs())
	}
	if !n.OwnIP(netip.MustParseAddr("::ffff:127.0.0.1")) {
		t.Error("a v4-mapped address is not confd's")
	}

	noLoop := newNet(t, Config{})
	if noLoop.OwnIP(netip.MustParseAddr("127.0.0.1")) {
		t.Error("loopback is confd's without IncludeLoopback")
	}
	if _, err := New(Config{PublicIPs: []string{"not an ip"}}); err == nil {
		t.Error("a bad public IP was accepted")
	}
}

// TestPathAllocatesNothing: Own, and reading and writing a media socket
// through pion's AddrPort interface, allocate nothing per packet.
func TestPathAllocatesNothing(t *testing.T) {
	n := newNet(t, Config{LoopbackOnly: true})
	a, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := n.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wa, ok := a.(ice.AddrPortReaderWriter)
	if !ok {
		t.Fatal("a media socket does not offer pion's AddrPort reads and writes")
	}
	rb := b.(ice.AddrPortReaderWriter)
	to := b.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt, buf := make([]byte, 200), make([]byte, 1500)
	allocs := testing.AllocsPerRun(200, func() {
		if !n.Own(to) {
			t.Fatal("not owned")
		}
		if _, err := wa.WriteToAddrPort(pkt, to); err != nil {
			t.Fatal(err)
		}
		if _, _, err := rb.ReadFromAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per packet, want 0", allocs)
	}
}

// TestNoServerReflexiveSocketWithoutAPublicAddress: with only an IPv4
// public address, pion's IPv6 server-reflexive socket (the unspecified
// address, any port) is refused, the IPv4 one is opened, and a socket on
// a given port (a UDP mux on "[::]:10000") still is.
func TestNoServerReflexiveSocketWithoutAPublicAddress(t *testing.T) {
	n := newNet(t, Config{LoopbackOnly: true, PublicIPs: []string{"203.0.113.7"}})
	if _, err := n.ListenUDP("udp6", &net.UDPAddr{}); !errors.Is(err, ErrNoPublicIP) {
		t.Errorf("udp6 on the unspecified address: %v, want ErrNoPublicIP", err)
	}
	c, err := n.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	port := 0
	if c, err := n.ListenUDP("udp4", &net.UDPAddr{}); err == nil {
		port = c.LocalAddr().(*net.UDPAddr).Port
		_ = c.Close()
	}
	c, err = n.ListenUDP("udp", &net.UDPAddr{Port: port})
	if err != nil {
		t.Fatalf("a socket on a given port: %v", err)
	}
	_ = c.Close()
}
