package vertotest

import (
	"net"
	"sync"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
)

// Throttle limits the rate at which a client receives RTP, as a congested
// access link does: a token-bucket policer on its sockets drops what
// exceeds the rate. STUN and DTLS pass untouched (RFC 7983 tells them
// apart by the first byte), so the connection itself survives.
type Throttle struct {
	mu      sync.Mutex
	rate    int // bits per second; 0: no limit
	tokens  float64
	last    time.Time
	dropped int
	cut     bool // the link is down: nothing in or out, STUN and DTLS included
}

// throttleBurst is the bucket depth in time at the rate: a key frame of
// the largest layer fits in it, and so do the bursts a busy test machine
// makes by reading late what arrived in time; a rate it exceeds for
// longer does not.
const throttleBurst = 400 * time.Millisecond

// NewThrottle returns a Throttle that lets everything through until SetRate.
func NewThrottle() *Throttle { return &Throttle{} }

// SetRate sets the limit in bits per second; 0 lifts it.
func (t *Throttle) SetRate(bps int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rate = bps
	t.tokens = float64(bps) * throttleBurst.Seconds() / 8
	t.last = time.Now()
}

// Cut takes the link down for good: from now on the client's sockets drop
// every datagram they send or receive, as when a laptop leaves the Wi-Fi
// while its websocket lives on elsewhere.
func (t *Throttle) Cut() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cut = true
}

func (t *Throttle) isCut() bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cut
}

// Dropped is how many packets the throttle dropped.
func (t *Throttle) Dropped() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}

// admit takes n bytes from the bucket, false when they do not fit. A
// nil Throttle admits everything.
func (t *Throttle) admit(n int) bool {
	if t == nil {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rate == 0 {
		return true
	}
	now := time.Now()
	depth := float64(t.rate) * throttleBurst.Seconds() / 8
	t.tokens = min(depth, t.tokens+now.Sub(t.last).Seconds()*float64(t.rate)/8)
	t.last = now
	if t.tokens < float64(n) {
		t.dropped++
		return false
	}
	t.tokens -= float64(n)
	return true
}

// isRTP reports whether a datagram is (S)RTP or (S)RTCP (RFC 7983 §7).
func isRTP(b []byte) bool {
	return len(b) > 0 && b[0] >= 128 && b[0] <= 191
}

// clientNet is the host's network as the client's PeerConnection uses it:
// every UDP socket's reads go through its Throttle, when it has one, and
// what they admit is recorded for TWCC feedback.
type clientNet struct {
	*stdnet.Net
	t *Throttle // nil: no limit
	a *arrivals
}

func newClientNet(t *Throttle, a *arrivals) (*clientNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &clientNet{Net: n, t: t, a: a}, nil
}

func (n *clientNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &clientConn{UDPConn: c, t: n.t, a: n.a}, nil
}

// clientConn drops the RTP its Throttle does not admit and records the
// arrival of the rest.
type clientConn struct {
	transport.UDPConn
	t *Throttle
	a *arrivals
}

func (c *clientConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err == nil && c.t.isCut() {
			continue
		}
		if err != nil || !isRTP(b[:n]) {
			return n, addr, err
		}
		now := time.Now()
		if c.t.admit(n) {
			c.a.record(b[:n], now)
			return n, addr, err
		}
	}
}

// WriteTo drops everything once the link is cut.
func (c *clientConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.t.isCut() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}
