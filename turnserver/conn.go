package turnserver

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// packetConn is the TURN UDP socket as pion sees it: every datagram goes
// through the filter first. pion reads it on one goroutine.
type packetConn struct {
	*net.UDPConn
	f     filter
	addrs map[netip.AddrPort]*net.UDPAddr // the clients' net.Addr, made once each
}

// maxClientAddrs bounds packetConn's address map: past it the map starts
// afresh (a client's entry is then made again on its next datagram).
const maxClientAddrs = 4096

func newPacketConn(c *net.UDPConn, s *Server) *packetConn {
	return &packetConn{UDPConn: c, f: filter{s: s}, addrs: map[netip.AddrPort]*net.UDPAddr{}}
}

// ReadFrom returns the next datagram the filter lets through, answering
// those it refuses.
func (c *packetConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, ap, err := c.UDPConn.ReadFromUDPAddrPort(p)
		if err != nil {
			return 0, nil, err
		}
		reply, pass := c.f.inspect(p[:n])
		if reply != nil {
			_, _ = c.UDPConn.WriteToUDPAddrPort(reply, ap)
		}
		if pass {
			return n, c.addr(ap), nil
		}
	}
}

func (c *packetConn) addr(ap netip.AddrPort) *net.UDPAddr {
	if a, ok := c.addrs[ap]; ok {
		return a
	}
	if len(c.addrs) >= maxClientAddrs {
		clear(c.addrs)
	}
	a := net.UDPAddrFromAddrPort(ap)
	c.addrs[ap] = a
	return a
}

// WriteTo sends to a client without building a sockaddr per packet.
func (c *packetConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return c.UDPConn.WriteToUDPAddrPort(p, ua.AddrPort())
	}
	return c.UDPConn.WriteTo(p, addr)
}

// maxFrame is the largest TURN frame a client may send over TCP: pion
// relays frames below its 1600-byte MTU, and a frame past this buffer is a
// client that does not speak TURN.
const maxFrame = 2048

// clientConn is a TURN client's TCP or TLS connection as pion reads it:
// frames (STUN messages and ChannelData, RFC 8656 §12.5) cut out of the
// stream, each through the filter. Read hands pion whole frames; its
// buffer is the connection's own, so the path allocates nothing.
type clientConn struct {
	net.Conn
	s    *Server
	f    filter
	buf  [maxFrame]byte
	r, w int // buffered bytes: buf[r:w]
	out  int // bytes of a frame let through still to hand to Read

	idle      time.Duration
	idleUntil time.Time
	started   bool // a frame came: the idle deadline applies, no longer the first one
	closed    atomic.Bool
	release   func() // the connection's count in the listener
}

// Read returns the next frames the filter lets through, answering those
// it refuses. A stream that does not cut into frames ends the connection.
func (c *clientConn) Read(p []byte) (int, error) {
	for {
		if c.out > 0 {
			n := copy(p, c.buf[c.r:c.r+c.out])
			c.r += n
			c.out -= n
			return n, nil
		}
		size, err := frameLen(c.buf[c.r:c.w])
		if err != nil {
			c.s.n.garbage.Add(1)
			return 0, err
		}
		if size > 0 && size <= c.w-c.r {
			c.frame(size)
			continue
		}
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
}

// frame passes or drops the whole frame at r.
func (c *clientConn) frame(size int) {
	c.started = true
	reply, pass := c.f.inspect(c.buf[c.r : c.r+size])
	if reply != nil {
		_, _ = c.Conn.Write(reply)
	}
	if pass {
		c.out = size
		return
	}
	c.r += size
}

// fill reads more of the stream into the buffer, keeping the idle
// deadline ahead.
func (c *clientConn) fill() error {
	if c.r > 0 {
		c.w = copy(c.buf[:], c.buf[c.r:c.w])
		c.r = 0
	}
	if c.w == len(c.buf) {
		c.s.n.garbage.Add(1)
		return errFrameLarge
	}
	// Moving the deadline on every read would cost a timer reset per
	// packet; moving it when a tenth of the idle time has passed keeps
	// it within 10 % of exact. Until the first frame, the deadline set
	// when the connection came stays.
	if now := time.Now(); c.started && c.idleUntil.Sub(now) < c.idle*9/10 {
		c.idleUntil = now.Add(c.idle)
		_ = c.Conn.SetReadDeadline(c.idleUntil)
	}
	n, err := c.Conn.Read(c.buf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	return err
}

// Close closes the connection; its count in the listener ends.
func (c *clientConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.release()
	}
	return err
}

// frameLen is the length of the frame b starts with, 0 while b is too
// short to tell, or an error when b starts no STUN message (RFC 8489 §6:
// a 20-byte header whose length counts the attributes, the magic cookie)
// and no ChannelData (RFC 8656 §12: a channel 0x4000–0x4FFF, a length,
// and over TCP padding to a multiple of 4), or one over maxFrame.
func frameLen(b []byte) (int, error) {
	if len(b) < 4 {
		return 0, nil
	}
	length := int(binary.BigEndian.Uint16(b[2:4]))
	var size int
	switch c := b[0]; {
	case c >= 0x40 && c <= 0x4F:
		size = 4 + (length+3)&^3
	case c <= 3:
		if length%4 != 0 || len(b) >= 8 && binary.BigEndian.Uint32(b[4:8]) != magicCookie {
			return 0, errFrame
		}
		size = stunHeaderLen + length
	default:
		return 0, errFrame
	}
	if size > maxFrame {
		return 0, errFrameLarge
	}
	return size, nil
}

const stunHeaderLen = 20

// listener hands pion the TURN clients' TCP (or TLS) connections within
// the connection limits, as clientConns.
type listener struct {
	net.Listener
	s *Server

	mu    sync.Mutex
	byIP  map[netip.Addr]int
	conns map[*clientConn]struct{}
}

func newListener(l net.Listener, s *Server) *listener {
	return &listener{Listener: l, s: s, byIP: map[netip.Addr]int{}, conns: map[*clientConn]struct{}{}}
}

// Accept returns the next connection within the limits; one past them is
// closed and counted.
func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if cc := l.admit(c); cc != nil {
			return cc, nil
		}
		l.s.n.overLimit.Add(1)
		_ = c.Close()
	}
}

func (l *listener) admit(c net.Conn) *clientConn {
	ip := addrIP(c.RemoteAddr())
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.s.cfg.MaxConnections || l.byIP[ip] >= l.s.cfg.MaxConnectionsPerIP || !l.s.live.add() {
		return nil
	}
	l.byIP[ip]++
	cc := &clientConn{Conn: c, s: l.s, f: filter{s: l.s}, idle: l.s.cfg.IdleTimeout}
	cc.release = func() { l.forget(cc, ip) }
	_ = c.SetReadDeadline(time.Now().Add(l.s.cfg.FirstRequestTimeout))
	l.conns[cc] = struct{}{}
	return cc
}

func (l *listener) forget(cc *clientConn, ip netip.Addr) {
	l.mu.Lock()
	delete(l.conns, cc)
	if l.byIP[ip]--; l.byIP[ip] <= 0 {
		delete(l.byIP, ip)
	}
	l.mu.Unlock()
	l.s.live.done()
}

// open counts the connections open now.
func (l *listener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Close stops accepting and closes the open connections, which ends
// pion's goroutine for each.
func (l *listener) Close() error {
	err := l.Listener.Close()
	l.mu.Lock()
	conns := make([]*clientConn, 0, len(l.conns))
	for cc := range l.conns {
		conns = append(conns, cc)
	}
	l.mu.Unlock()
	for _, cc := range conns {
		_ = cc.Conn.Close()
	}
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
