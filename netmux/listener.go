package netmux

import (
	"crypto/tls"
	"net"
	"sync"
)

// Listener is one protocol's share of the Mux: a [net.Listener] whose
// Accept returns the connections sorted to it.
type Listener struct {
	addr   net.Addr
	ch     chan *Conn
	closed chan struct{}
	once   sync.Once
}

func newListener(addr net.Addr) *Listener {
	return &Listener{addr: addr, ch: make(chan *Conn), closed: make(chan struct{})}
}

// Accept waits for the next connection of this protocol.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, ErrClosed
	}
}

// Close stops Accept. Connections sorted to a closed listener are closed.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is the Mux's address.
func (l *Listener) Addr() net.Addr { return l.addr }

// hand gives c to Accept; false if the listener or the Mux closed first.
func (l *Listener) hand(c *Conn, done <-chan struct{}) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	case <-done:
		return false
	}
}

// Conn is a sorted connection: the TCP connection for ICE, the TLS
// connection for HTTP and TURN, with the bytes read to sort it replayed
// first.
type Conn struct {
	net.Conn
	pre []byte
	tls *tls.Conn
}

// Read returns the bytes read while sorting, then what follows.
func (c *Conn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ConnectionState is the TLS state of an HTTP or TURN connection (ok is
// false for ICE over TCP, which is not TLS).
func (c *Conn) ConnectionState() (state tls.ConnectionState, ok bool) {
	if c.tls == nil {
		return tls.ConnectionState{}, false
	}
	return c.tls.ConnectionState(), true
}
