package dialin

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
)

// streamLimits are what a TCP or TLS connection may hold and take.
type streamLimits struct {
	read, idle, handshake, write time.Duration
}

// streamListener is a TCP listener as sipgo accepts from it: connections
// over the per-address or total limit are closed at once, TLS ones are
// wrapped (their handshake happens on the connection's reader, under a
// deadline, never in Accept), and each is a streamConn.
type streamListener struct {
	net.Listener
	gate      *gate
	transport string
	tls       *tls.Config
	conns     *connCounter
	// busy reports whether a remote address carries a call: its
	// connection is then never closed for being idle.
	busy func(transport string, remote netip.AddrPort) bool
}

// Accept returns the next connection within the limits. A failing
// accept (out of file descriptors) is retried after a pause that grows
// to a second, rather than returned: sipgo stops serving on any error.
func (l *streamListener) Accept() (net.Conn, error) {
	pause := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		if err != nil {
			l.gate.log.Warn("sip accept failed", zap.String("transport", l.transport), zap.Error(err))
			time.Sleep(pause) // the listener's own goroutine, backing off
			pause = min(2*pause, time.Second)
			continue
		}
		pause = 5 * time.Millisecond
		remote := addrPortOf(c.RemoteAddr())
		release, ok := l.conns.take(remote.Addr())
		if !ok {
			l.gate.closed.Add(1)
			l.gate.log.Debug("sip connection refused: limit", zap.String("transport", l.transport), zap.Stringer("source", remote))
			_ = c.Close()
			continue
		}
		return l.wrap(c, remote, release), nil
	}
}

func (l *streamListener) wrap(c net.Conn, remote netip.AddrPort, release func()) *streamConn {
	sc := &streamConn{Conn: c, raw: c, gate: l.gate, transport: l.transport, remote: remote, local: addrPortOf(c.LocalAddr()),
		release: release, busy: l.busy}
	if l.tls != nil {
		sc.Conn = tls.Server(c, l.tls)
		sc.handshake = true
	}
	return sc
}

func addrPortOf(a net.Addr) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// connCounter bounds stream connections per remote address and in all,
// and lets Shutdown wait for the last one to close.
type connCounter struct {
	perAddr, total int

	mu     sync.Mutex
	byAddr map[netip.Addr]int
	n      int
	idle   chan struct{} // closed when n falls to 0; nil while it is 0
}

func newConnCounter(perAddr, total int) *connCounter {
	return &connCounter{perAddr: perAddr, total: total, byAddr: map[netip.Addr]int{}}
}

// wait returns when no connection is open, or when ctx ends (false).
func (c *connCounter) wait(ctx context.Context) bool {
	c.mu.Lock()
	idle := c.idle
	c.mu.Unlock()
	if idle == nil {
		return true
	}
	select {
	case <-idle:
		return true
	case <-ctx.Done():
		return false
	}
}

// take counts a connection from a; release gives it back (once).
func (c *connCounter) take(a netip.Addr) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= c.total || c.byAddr[a] >= c.perAddr {
		return nil, false
	}
	if c.n == 0 {
		c.idle = make(chan struct{})
	}
	c.n++
	c.byAddr[a]++
	var once sync.Once
	return func() { once.Do(func() { c.give(a) }) }, true
}

func (c *connCounter) give(a netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.byAddr[a]--; c.byAddr[a] <= 0 {
		delete(c.byAddr, a)
	}
	if c.n == 0 {
		close(c.idle)
		c.idle = nil
	}
}

// streamConn is one TCP or TLS connection as sipgo reads it: Read returns
// whole messages that passed the gate's check, one after another, framed
// by their Content-Length (RFC 3261 §18.3); confd answers the others
// itself, and closes the connection when it cannot find where the next
// message begins. Deadlines bound each wait: the TLS handshake, an idle
// connection (unless it carries a call), and a message once begun, which
// must be whole within the read timeout however slowly it trickles in.
// sipgo reads on one goroutine per connection, which owns buf and out.
type streamConn struct {
	net.Conn           // the connection sipgo sees: TLS on top of raw, or raw
	raw       net.Conn // the TCP connection, whose deadlines bound the handshake too
	gate      *gate
	transport string
	remote    netip.AddrPort
	local     netip.AddrPort // where the peer connected to: the arrival address of its requests
	release   func()
	busy      func(string, netip.AddrPort) bool
	handshake bool // TLS: not done yet

	buf []byte // read, not yet framed
	out []byte // a checked message sipgo has not read all of

	wmu       sync.Mutex // sipgo's writes and confd's own replies do not interleave
	closeOnce sync.Once
}

// errStreamEnd ends sipgo's reading of a connection; sipgo takes io.EOF
// as a plain close.
var errStreamEnd = io.EOF

func (c *streamConn) Read(b []byte) (int, error) {
	for len(c.out) == 0 {
		if err := c.next(); err != nil {
			return 0, err
		}
	}
	n := copy(b, c.out)
	c.out = c.out[n:]
	return n, nil
}

// next frames the next message into out, answering or dropping what the
// check refuses; an error ends the connection.
func (c *streamConn) next() error {
	if c.handshake {
		if err := c.doHandshake(); err != nil {
			return c.end("TLS handshake", err)
		}
	}
	if err := c.skipKeepAlives(); err != nil {
		return err
	}
	started := time.Now()
	lim := c.gate.lim
	end, err := c.fill(started, lim.maxHeader+4, func() int { return bytes.Index(c.buf, crlf2) })
	if errors.Is(err, errTooLarge) {
		// Answer from the complete lines there are, then give up.
		head := c.buf[:bytes.LastIndex(c.buf, []byte("\r\n"))+1]
		return c.refuse(splitWire(bytes.TrimSuffix(head, []byte("\r"))), tooLarge("header section over the limit"))
	}
	if err != nil {
		return err
	}
	m := splitWire(c.buf[:end])
	n, has, p := m.contentLength()
	switch {
	case end > lim.maxHeader:
		return c.refuse(m, tooLarge("header section over the limit"))
	case p != nil:
		return c.refuse(m, p)
	case end+4+n > lim.maxMessage:
		return c.refuse(m, tooLarge("message over the size limit"))
	}
	if _, err := c.fill(started, end+4+n, func() int { return min(len(c.buf), end+4+n) - (end + 4 + n) }); err != nil {
		return err
	}
	m.body = append([]byte(nil), c.buf[end+4:end+4+n]...)
	c.consume(end + 4 + n)
	cl := -1
	if !has {
		cl = n // RFC 2543 let UDP messages omit it; a stream needs it
	}
	c.deliver(m.judge(lim, false, cl, c.local))
	return nil
}

var crlf2 = []byte("\r\n\r\n")

func (c *streamConn) doHandshake() error {
	_ = c.raw.SetDeadline(time.Now().Add(c.gate.stream.handshake))
	err := c.Conn.(*tls.Conn).Handshake()
	_ = c.raw.SetDeadline(time.Time{})
	c.handshake = false
	return err
}

// skipKeepAlives drops CRLFs between messages, answering a double CRLF
// ping with a CRLF pong (RFC 5626 §3.5.1), and waits for the first octet
// of a message under the idle timeout.
func (c *streamConn) skipKeepAlives() error {
	for {
		for len(c.buf) >= 2 && c.buf[0] == '\r' && c.buf[1] == '\n' {
			if len(c.buf) >= 4 && bytes.HasPrefix(c.buf, crlf2) {
				if _, err := c.Write(crlf2[:2]); err != nil {
					return c.end("keep-alive pong", err)
				}
				c.consume(4)
				continue
			}
			c.consume(2)
		}
		if len(c.buf) > 0 && (c.buf[0] != '\r' || len(c.buf) > 1) {
			return nil
		}
		if err := c.readIdle(); err != nil {
			return err
		}
	}
}

// readIdle waits for more octets between messages; a connection that
// carries a call is kept however long it is quiet.
func (c *streamConn) readIdle() error {
	for {
		_ = c.raw.SetReadDeadline(time.Now().Add(c.gate.stream.idle))
		err := c.readMore()
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return c.hangup()
		}
		if !c.busy(c.transport, c.remote) {
			return c.end("idle", err)
		}
	}
}

// errTooLarge is fill's: limit octets were read and need is not met.
var errTooLarge = errors.New("dialin: message over the limit")

func tooLarge(detail string) *wireProblem {
	return &wireProblem{code: 513, reason: "Message Too Large", detail: detail}
}

// fill reads until need() is not negative (and returns it), all before
// started plus the read timeout, and no more than limit octets.
func (c *streamConn) fill(started time.Time, limit int, need func() int) (int, error) {
	for {
		if n := need(); n >= 0 {
			return n, nil
		}
		if len(c.buf) >= limit {
			return 0, errTooLarge
		}
		_ = c.raw.SetReadDeadline(started.Add(c.gate.stream.read))
		if err := c.readMore(); errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, c.end("unfinished message", err)
		} else if err != nil {
			return 0, c.hangup()
		}
	}
}

// readMore appends what the connection has to buf.
func (c *streamConn) readMore() error {
	if cap(c.buf)-len(c.buf) < 4096 {
		grown := make([]byte, len(c.buf), min(2*cap(c.buf)+4096, c.gate.lim.maxMessage+8192))
		copy(grown, c.buf)
		c.buf = grown
	}
	n, err := c.Conn.Read(c.buf[len(c.buf):cap(c.buf)])
	c.buf = c.buf[:len(c.buf)+n]
	if n > 0 {
		return nil
	}
	return err
}

func (c *streamConn) consume(n int) {
	c.buf = c.buf[:copy(c.buf, c.buf[n:])]
}

// deliver hands a passing message to sipgo, or answers or drops it.
func (c *streamConn) deliver(v verdict) {
	if v.pass != nil {
		c.out = v.pass
		return
	}
	c.gate.note(v, c.transport, c.raw.RemoteAddr())
	if v.reply != nil {
		_, _ = c.Write(v.reply)
	}
}

// refuse answers a message whose end cannot be found and closes the
// connection: nothing after it can be framed.
func (c *streamConn) refuse(m *wireMsg, p *wireProblem) error {
	m.fail(p)
	c.deliver(m.judge(c.gate.lim, false, 0, c.local))
	return c.end(p.detail, nil)
}

// hangup ends a connection the peer closed (or broke).
func (c *streamConn) hangup() error {
	_ = c.Close()
	return errStreamEnd
}

// end closes a connection that broke a limit, saying why at debug level.
func (c *streamConn) end(why string, err error) error {
	c.gate.closed.Add(1)
	if ce := c.gate.log.Check(zap.DebugLevel, "sip connection closed"); ce != nil {
		ce.Write(zap.String("transport", c.transport), zap.Stringer("source", c.remote), zap.String("why", why), zap.Error(err))
	}
	_ = c.Close()
	return errStreamEnd
}

// Write sends sipgo's messages and confd's replies whole, each under the
// write timeout, so a peer that does not read cannot hold a writer.
func (c *streamConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.gate.stream.write))
	return c.Conn.Write(b)
}

// Close closes the connection and gives its place back.
func (c *streamConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		c.release()
	})
	return err
}
