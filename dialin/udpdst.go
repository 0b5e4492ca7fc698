package dialin

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// A UDP socket bound to every address (0.0.0.0 or [::]) does not say which
// of the host's addresses a datagram was sent to, and the kernel picks the
// source of what it sends by route, not by what the peer dialled. On a host
// with several addresses a phone that sent to one then hears from another,
// which NATs and strict phones drop. dstConn reads each datagram's
// destination (IP_PKTINFO, IPV6_PKTINFO; RFC 3542 §6) and sends to a peer
// from the address the peer last sent to.
type dstConn struct {
	net.PacketConn
	udp *net.UDPConn
	v4  *ipv4.PacketConn // one of the two, for the socket's family
	v6  *ipv6.PacketConn

	mu         sync.Mutex
	cur, older map[netip.AddrPort]netip.Addr // peer → the local address it sent to
}

// maxPeers bounds what dstConn remembers: two generations of this many
// peers, the older dropped when the newer fills, so a scan from many
// addresses costs bounded memory and a live phone is remembered.
const maxPeers = 4096

// newDstConn wraps c when it is bound to every address and the control
// messages can be had; otherwise the socket's own address says it all and
// it returns nil.
func newDstConn(c net.PacketConn) *dstConn {
	udp, ok := c.(*net.UDPConn)
	if !ok {
		return nil
	}
	la, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok || !la.IP.IsUnspecified() {
		return nil
	}
	d := &dstConn{PacketConn: c, udp: udp, cur: map[netip.AddrPort]netip.Addr{}, older: map[netip.AddrPort]netip.Addr{}}
	if la.IP.To4() != nil {
		d.v4 = ipv4.NewPacketConn(c)
		if d.v4.SetControlMessage(ipv4.FlagDst, true) != nil {
			return nil
		}
		return d
	}
	// A dual-stack socket reports an IPv4 datagram's destination as an
	// IPv4-mapped address.
	d.v6 = ipv6.NewPacketConn(c)
	if d.v6.SetControlMessage(ipv6.FlagDst, true) != nil {
		return nil
	}
	return d
}

// readFrom reads a datagram and the local address it was sent to (zero
// when the kernel did not say).
func (d *dstConn) readFrom(b []byte) (int, netip.Addr, net.Addr, error) {
	var dst net.IP
	var n int
	var src net.Addr
	var err error
	if d.v4 != nil {
		var cm *ipv4.ControlMessage
		n, cm, src, err = d.v4.ReadFrom(b)
		if cm != nil {
			dst = cm.Dst
		}
	} else {
		var cm *ipv6.ControlMessage
		n, cm, src, err = d.v6.ReadFrom(b)
		if cm != nil {
			dst = cm.Dst
		}
	}
	local, _ := netip.AddrFromSlice(dst)
	local = local.Unmap()
	if err == nil && local.IsValid() {
		d.remember(addrPortOf(src), local)
	}
	return n, local, src, err
}

func (d *dstConn) remember(peer netip.AddrPort, local netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cur[peer] == local {
		return
	}
	if len(d.cur) >= maxPeers {
		d.older, d.cur = d.cur, make(map[netip.AddrPort]netip.Addr, maxPeers)
	}
	d.cur[peer] = local
}

func (d *dstConn) localFor(peer netip.AddrPort) (netip.Addr, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a, ok := d.cur[peer]; ok {
		return a, true
	}
	a, ok := d.older[peer]
	return a, ok
}

// WriteTo sends b to addr from the local address addr last sent to; to a
// peer not heard from, the kernel chooses. The source goes in an
// IP_PKTINFO control message for an IPv4 address, which Linux takes on a
// dual-stack socket too (IPV6_PKTINFO there refuses an IPv4-mapped source),
// and in IPV6_PKTINFO for an IPv6 one.
func (d *dstConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	local, ok := d.localFor(addrPortOf(addr))
	ua, isUDP := addr.(*net.UDPAddr)
	if !ok || !isUDP {
		return d.PacketConn.WriteTo(b, addr)
	}
	var oob []byte
	if local.Is4() {
		oob = (&ipv4.ControlMessage{Src: local.AsSlice()}).Marshal()
	} else {
		oob = (&ipv6.ControlMessage{Src: local.AsSlice()}).Marshal()
	}
	n, _, err := d.udp.WriteMsgUDP(b, oob, ua)
	return n, err
}
