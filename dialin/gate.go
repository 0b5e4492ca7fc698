package dialin

import (
	"net"
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
// on the top Via); it answers or drops the others itself. sipgo reads on
// one goroutine, so the receive buffer is the connection's own.
type packetConn struct {
	net.PacketConn
	gate *gate
	buf  []byte
}

func newPacketConn(c net.PacketConn, g *gate) *packetConn {
	return &packetConn{PacketConn: c, gate: g, buf: make([]byte, maxDatagram)}
}

func (c *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, src, err := c.PacketConn.ReadFrom(c.buf)
		if err != nil {
			return 0, src, err
		}
		v := inspectDatagram(c.buf[:n], c.gate.lim)
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
