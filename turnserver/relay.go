package turnserver

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
)

// relayGen makes relay sockets for pion (its RelayAddressGenerator): UDP
// only, on the relay IP.
type relayGen struct{ s *Server }

var _ turn.RelayAddressGenerator = relayGen{}

func (relayGen) Validate() error { return nil }

// AllocatePacketConn opens a relay socket on the relay IP.
func (g relayGen) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	ip := g.s.cfg.RelayIP
	if (conf.Network == "udp6") != ip.Is6() {
		return nil, nil, errFamily
	}
	if !g.s.live.add() {
		return nil, nil, net.ErrClosed
	}
	c, err := net.ListenUDP(conf.Network, &net.UDPAddr{IP: ip.AsSlice(), Port: conf.RequestedPort})
	if err != nil {
		g.s.live.done()
		return nil, nil, err
	}
	rc := &relayConn{UDPConn: c, s: g.s}
	rc.in.rate, rc.out.rate = g.s.byteRate(), g.s.byteRate()
	return rc, c.LocalAddr(), nil
}

// AllocateListener refuses TCP relays (RFC 6062): confd's media is UDP.
func (relayGen) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

// AllocateConn refuses TCP relays.
func (relayGen) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) { return nil, errTCPRelay }

// relayConn is one allocation's relay socket. It lets through only
// packets to and from confd's live media sockets, within the allocation's
// bandwidth each way. pion reads it on the allocation's goroutine and
// writes it on the client's reading goroutine. The packet path allocates
// nothing, takes no lock across a write and logs nothing: a dropped
// packet is counted, and a dropped write reports success so that pion
// logs nothing either.
type relayConn struct {
	*net.UDPConn
	s       *Server
	in, out bucket
	peers   addrCache // only the reading goroutine touches it
	closed  atomic.Bool
}

// ReadFrom returns the next packet from one of confd's media sockets.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, ap, err := c.UDPConn.ReadFromUDPAddrPort(p)
		if err != nil {
			return 0, nil, err
		}
		switch {
		case !c.s.cfg.Policy.Own(ap):
			c.s.n.droppedNotOwn.Add(1)
		case !c.in.take(n, time.Now()):
			c.s.n.droppedRate.Add(1)
		default:
			c.s.n.relayedIn.Add(uint64(n))
			return n, c.peers.get(ap), nil
		}
	}
}

// WriteTo sends p to addr if addr is one of confd's media sockets.
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		c.s.n.droppedNotOwn.Add(1)
		return len(p), nil
	}
	ap := ua.AddrPort()
	switch {
	case !c.s.cfg.Policy.Own(ap):
		c.s.n.droppedNotOwn.Add(1)
		return len(p), nil
	case !c.out.take(len(p), time.Now()):
		c.s.n.droppedRate.Add(1)
		return len(p), nil
	}
	c.s.n.relayedOut.Add(uint64(len(p)))
	return c.UDPConn.WriteToUDPAddrPort(p, ap)
}

// Close closes the relay socket (pion, when the allocation ends).
func (c *relayConn) Close() error {
	err := c.UDPConn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.s.live.done()
	}
	return err
}

// bucket is a token bucket of bytes: rate bytes a second, and a second's
// worth of burst, so a key frame's burst passes while a sustained flood
// does not. A rate of 0 is no limit.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

// take spends n bytes at now, if the bucket holds them.
func (b *bucket) take(n int, now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last.IsZero() {
		b.tokens = b.rate
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = min(b.rate, b.tokens+dt*b.rate)
	}
	b.last = now
	if b.tokens < float64(n) {
		return false
	}
	b.tokens -= float64(n)
	return true
}

// addrCache keeps the net.Addr of the last few peers, so that ReadFrom
// need not make one per packet: an allocation talks to one or two of
// confd's sockets.
type addrCache struct {
	ap   [4]netip.AddrPort
	addr [4]*net.UDPAddr
	next int
}

func (c *addrCache) get(ap netip.AddrPort) *net.UDPAddr {
	for i, a := range c.addr {
		if a != nil && c.ap[i] == ap {
			return a
		}
	}
	a := net.UDPAddrFromAddrPort(ap)
	c.ap[c.next], c.addr[c.next] = ap, a
	c.next = (c.next + 1) % len(c.addr)
	return a
}

// tracker counts what must end before Close returns (relay sockets,
// client connections), and refuses new ones once closing.
type tracker struct {
	mu      sync.Mutex
	n       int
	closing bool
	zero    chan struct{}
}

func (t *tracker) add() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false
	}
	t.n++
	return true
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n--; t.n == 0 && t.zero != nil {
		close(t.zero)
		t.zero = nil
	}
}

// close refuses new entries and returns a channel closed once none is
// left.
func (t *tracker) close() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closing = true
	ch := make(chan struct{})
	if t.n == 0 {
		close(ch)
		return ch
	}
	t.zero = ch
	return ch
}
