package netmux

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Config is what a Mux serves and its limits.
type Config struct {
	// TLS terminates TLS (required).
	TLS *tls.Config
	// TURN and ICE say whether TURN over TLS and ICE over TCP are served;
	// connections of a protocol not served are refused.
	TURN, ICE bool
	// HandshakeTimeout bounds a connection's first bytes, its TLS
	// handshake and its first bytes inside TLS together (default 10 s).
	HandshakeTimeout time.Duration
	// MaxPending is how many connections may be classified at once
	// (default 256), MaxPendingPerIP how many of them from one address
	// (default 32).
	MaxPending, MaxPendingPerIP int
	Log                         *zap.Logger
}

// Defaults of Config's limits. A TLS handshake takes a few round trips, so
// 10 s leaves a slow mobile network room, while a client that sends
// nothing gives its slot back soon. 256 sockets being sorted at once is far
// above what a conference server's arrivals need and keeps a flood of idle
// connections from holding many goroutines; 32 from one address leaves
// room for a busy office behind one NAT.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxPending       = 256
	DefaultMaxPendingPerIP  = 32
)

func (c *Config) defaults() {
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxPendingPerIP <= 0 {
		c.MaxPendingPerIP = DefaultMaxPendingPerIP
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

// Stats counts what a Mux did with the connections it accepted.
type Stats struct {
	Accepted  uint64 // connections accepted
	HTTP      uint64 // handed to the HTTP server (inside TLS)
	TURN      uint64 // handed to the TURN server (inside TLS)
	ICE       uint64 // handed to the ICE TCP mux
	Refused   uint64 // closed: no protocol served here starts like that
	TimedOut  uint64 // closed: no decision within HandshakeTimeout
	TLSFailed uint64 // closed: the TLS handshake failed
	OverLimit uint64 // closed at once: MaxPending or MaxPendingPerIP reached
}

type counters struct {
	accepted, http, turn, ice, refused, timedOut, tlsFailed, overLimit atomic.Uint64
}

// Mux owns one TCP listener and sorts its connections (see the package
// doc).
type Mux struct {
	cfg             Config
	ln              net.Listener
	http, turn, ice *Listener

	slots   chan struct{} // a token per connection being classified
	mu      sync.Mutex
	perIP   map[netip.Addr]int
	pending map[net.Conn]struct{} // being classified: Close ends their wait

	done    chan struct{}
	closing sync.Once
	wg      sync.WaitGroup
	n       counters
}

// Listen binds addr and starts sorting its connections.
func Listen(addr string, cfg Config) (*Mux, error) {
	if cfg.TLS == nil {
		return nil, errors.New("netmux: a TLS config is required")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return Serve(ln, cfg), nil
}

// Serve sorts the connections of ln, which the Mux then owns.
func Serve(ln net.Listener, cfg Config) *Mux {
	cfg.defaults()
	m := &Mux{
		cfg: cfg, ln: ln, slots: make(chan struct{}, cfg.MaxPending), perIP: map[netip.Addr]int{},
		pending: map[net.Conn]struct{}{}, done: make(chan struct{}),
	}
	m.http, m.turn, m.ice = newListener(ln.Addr()), newListener(ln.Addr()), newListener(ln.Addr())
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

// Addr is the address the Mux listens on.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// HTTP is the listener of HTTP connections (TLS terminated; their
// [Conn.ConnectionState] gives the TLS state).
func (m *Mux) HTTP() *Listener { return m.http }

// TURN is the listener of TURN over TLS connections (TLS terminated).
func (m *Mux) TURN() *Listener { return m.turn }

// ICE is the listener of ICE over TCP connections, for pion's ICE TCP
// mux. Its Addr is the Mux's.
func (m *Mux) ICE() *Listener { return m.ice }

// Stats reads the counters.
func (m *Mux) Stats() Stats {
	n := &m.n
	return Stats{
		Accepted: n.accepted.Load(), HTTP: n.http.Load(), TURN: n.turn.Load(), ICE: n.ice.Load(),
		Refused: n.refused.Load(), TimedOut: n.timedOut.Load(), TLSFailed: n.tlsFailed.Load(), OverLimit: n.overLimit.Load(),
	}
}

// Close stops listening, closes the protocol listeners and the
// connections still being classified, and waits for its goroutines.
// Connections already handed on are their consumers'.
func (m *Mux) Close() error {
	var err error
	m.closing.Do(func() {
		close(m.done)
		err = m.ln.Close()
		m.http.Close()
		m.turn.Close()
		m.ice.Close()
		m.mu.Lock()
		for c := range m.pending {
			_ = c.SetDeadline(time.Now())
		}
		m.mu.Unlock()
	})
	m.wg.Wait()
	return err
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	var backoff time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little, as
			// net/http does, instead of spinning.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			m.cfg.Log.Warn("https port: accept failed", zap.Error(err), zap.Duration("retry_in", backoff))
			if !m.pause(backoff) {
				return
			}
			continue
		}
		backoff = 0
		m.n.accepted.Add(1)
		m.admit(c)
	}
}

func (m *Mux) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.done:
		return false
	}
}

// admit starts classifying c, or closes it when the limits are reached.
func (m *Mux) admit(c net.Conn) {
	ip := remoteIP(c)
	select {
	case m.slots <- struct{}{}:
	default:
		m.n.overLimit.Add(1)
		_ = c.Close()
		return
	}
	m.mu.Lock()
	if m.perIP[ip] >= m.cfg.MaxPendingPerIP {
		m.mu.Unlock()
		<-m.slots
		m.n.overLimit.Add(1)
		_ = c.Close()
		return
	}
	m.perIP[ip]++
	// The deadline is set before c is pending, so that Close's
	// deadline of now always comes after it.
	_ = c.SetDeadline(time.Now().Add(m.cfg.HandshakeTimeout))
	m.pending[c] = struct{}{}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		m.classify(c, ip)
	}()
}

// sorted ends c's classification: it leaves the pending set and gives its
// slot back. It reports false when the Mux is closing (c is then closed
// by the caller, not handed on).
func (m *Mux) sorted(c net.Conn, ip netip.Addr) bool {
	m.mu.Lock()
	delete(m.pending, c)
	if m.perIP[ip]--; m.perIP[ip] <= 0 {
		delete(m.perIP, ip)
	}
	m.mu.Unlock()
	<-m.slots
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

func remoteIP(c net.Conn) netip.Addr {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// classify sorts c and hands it on, or closes it.
func (m *Mux) classify(c net.Conn, ip netip.Addr) {
	conn, l, err := m.sort(c)
	open := m.sorted(c, ip)
	if err != nil {
		m.count(err)
		m.cfg.Log.Debug("https port: connection closed", zap.Stringer("remote", c.RemoteAddr()), zap.Error(err))
		_ = c.Close()
		return
	}
	if !open || !l.hand(conn, m.done) {
		_ = conn.Close()
	}
}

// sort reads the first bytes (and terminates TLS) under the handshake
// deadline and returns the connection to hand on and to which listener.
func (m *Mux) sort(c net.Conn) (*Conn, *Listener, error) {
	kind, pre, err := readKind(c, Sniff)
	if err != nil {
		return nil, nil, err
	}
	switch kind {
	case ICE:
		if !m.cfg.ICE {
			return nil, nil, errOff
		}
		if err := c.SetDeadline(time.Time{}); err != nil {
			return nil, nil, err
		}
		m.n.ice.Add(1)
		return &Conn{Conn: c, pre: pre}, m.ice, nil
	case TLS:
		return m.terminate(&Conn{Conn: c, pre: pre})
	}
	return nil, nil, errRefused
}

// terminate runs the TLS handshake on c (its first bytes replayed) and
// sorts what comes inside.
func (m *Mux) terminate(c *Conn) (*Conn, *Listener, error) {
	tc := tls.Server(c, m.cfg.TLS)
	if err := tc.Handshake(); err != nil {
		if isTimeout(err) {
			return nil, nil, err
		}
		return nil, nil, &tlsError{err}
	}
	kind, pre, err := readKind(tc, SniffTLS)
	if err != nil {
		return nil, nil, err
	}
	var l *Listener
	switch {
	case kind == HTTP:
		l = m.http
		m.n.http.Add(1)
	case kind == STUN && m.cfg.TURN:
		l = m.turn
		m.n.turn.Add(1)
	case kind == STUN:
		return nil, nil, errOff
	default:
		return nil, nil, errInner
	}
	if err := c.Conn.SetDeadline(time.Time{}); err != nil {
		return nil, nil, err
	}
	return &Conn{Conn: tc, pre: pre, tls: tc}, l, nil
}

// readKind reads until sniff decides.
func readKind(r net.Conn, sniff func([]byte) Kind) (Kind, []byte, error) {
	buf := make([]byte, 0, SniffLen)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if k := sniff(buf); k != NeedMore {
			return k, buf, nil
		}
		if err != nil {
			return Refuse, nil, err
		}
		if len(buf) == cap(buf) {
			return Refuse, nil, errRefused
		}
	}
}

type tlsError struct{ err error }

func (e *tlsError) Error() string { return fmt.Sprintf("tls handshake: %v", e.err) }
func (e *tlsError) Unwrap() error { return e.err }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (m *Mux) count(err error) {
	var te *tlsError
	switch {
	case isTimeout(err):
		m.n.timedOut.Add(1)
	case errors.As(err, &te):
		m.n.tlsFailed.Add(1)
	default:
		m.n.refused.Add(1)
	}
}
