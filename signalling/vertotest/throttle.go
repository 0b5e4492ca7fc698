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

// Dropped is how many packets the throttle dropped.
func (t *Throttle) Dropped() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dropped
}

// admit takes n bytes from the bucket, false when they do not fit.
func (t *Throttle) admit(n int) bool {
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

// throttledNet is the host's network with every UDP socket's reads
// throttled.
type throttledNet struct {
	*stdnet.Net
	t *Throttle
}

func newThrottledNet(t *Throttle) (*throttledNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &throttledNet{Net: n, t: t}, nil
}

func (n *throttledNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &throttledConn{UDPConn: c, t: n.t}, nil
}

// throttledConn drops the RTP its Throttle does not admit.
type throttledConn struct {
	transport.UDPConn
	t *Throttle
}

func (c *throttledConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !isRTP(b[:n]) || c.t.admit(n) {
			return n, addr, err
		}
	}
}
