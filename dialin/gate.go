package dialin

import (
	"net"
	"net/netip"
	"sync/atomic"

	"go.uber.org/zap"
)

// gate is confd's check in front of sipgo on every transport: each
// message is read and judged (wirecheck.go) before sipgo sees it, so that
// sipgo only parses messages confd has found well-formed and within its
// limits, and malformed requests get a clear 4xx instead of silence.
type gate struct {
	lim    wireLimits
	stream streamLimits
	log    *zap.Logger

	refused atomic.Uint64 // messages answered or dropped by the check
	closed  atomic.Uint64 // stream connections closed or refused by a limit
}

// note counts a refused message; the log line is at debug level, since a
// peer decides how many there are.
func (g *gate) note(v verdict, transport string, src net.Addr) {
	g.refused.Add(1)
	if ce := g.log.Check(zap.DebugLevel, "sip message refused"); ce != nil {
		ce.Write(zap.String("transport", transport), zap.Stringer("source", src), zap.String("why", v.why),
			zap.Bool("answered", v.reply != nil))
	}
}

// packetConn is the UDP socket as sipgo reads it: ReadFrom returns only
// datagrams that pass the check, rewritten as the check wants them (rport
// on the top Via, the arrival stamp); it answers or drops the others
// itself. On a socket bound to every address, dst says where each
// datagram was sent and answers from there (udpdst.go). sipgo reads on one
// goroutine, so the receive buffer is the connection's own.
type packetConn struct {
	net.PacketConn // what sipgo writes to: dst when there is one
	gate           *gate
	dst            *dstConn
	local          netip.AddrPort // the socket's own address
	buf            []byte
}

func newPacketConn(c net.PacketConn, g *gate) *packetConn {
	pc := &packetConn{PacketConn: c, gate: g, local: addrPortOf(c.LocalAddr()), buf: make([]byte, maxDatagram)}
	if pc.dst = newDstConn(c); pc.dst != nil {
		pc.PacketConn = pc.dst
	}
	return pc
}

// read reads one datagram and the address it arrived on.
func (c *packetConn) read() (int, netip.AddrPort, net.Addr, error) {
	if c.dst == nil {
		n, src, err := c.PacketConn.ReadFrom(c.buf)
		return n, c.local, src, err
	}
	n, dst, src, err := c.dst.readFrom(c.buf)
	if !dst.IsValid() {
		return n, netip.AddrPort{}, src, err
	}
	return n, netip.AddrPortFrom(dst, c.local.Port()), src, err
}

func (c *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, local, src, err := c.read()
		if err != nil {
			return 0, src, err
		}
		v := inspectDatagram(c.buf[:n], c.gate.lim, local)
		if v.pass != nil && len(v.pass) <= len(b) {
			return copy(b, v.pass), src, nil
		}
		if v.pass != nil {
			v = verdict{why: "message over sipgo's read buffer"}
		}
		if v.why == "" {
			continue // a keep-alive
		}
		c.gate.note(v, "udp", src)
		if v.reply != nil {
			_, _ = c.PacketConn.WriteTo(v.reply, src)
		}
	}
}
