package dialin

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// SIP over WebSocket (RFC 7118). The web listeners hand confd every
// websocket upgrade that asks for the subprotocol "sip" (ServeWebSocket);
// confd checks its Origin and the connection limits, takes the connection
// from net/http and passes it, with the upgrade request it carried, to
// sipgo's own WS transport through wsListener, so that phones and browsers
// share one sipgo stack: one transaction layer, one dialog table. sipgo
// does the handshake and the framing; every message it reads goes through
// the read filter (wsFilter), which is the gate for websockets: the
// message rate, the size and the wire check, with a stateless 4xx for a
// request it refuses, sent on sipgo's own connection so that it never
// interleaves with sipgo's writes.

// WSSubprotocol is the websocket subprotocol of SIP (RFC 7118 §4).
const WSSubprotocol = "sip"

// floodLimit is how many messages in a row may be refused by the rate
// limit before the connection is closed (as for Verto).
const floodLimit = 100

// IsSIPWebSocket reports whether r asks for a websocket carrying SIP.
func IsSIPWebSocket(r *http.Request) bool {
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), WSSubprotocol) {
				return true
			}
		}
	}
	return false
}

// wsListener is how connections the web listeners took reach sipgo's WS
// transport, whose Serve accepts from it.
type wsListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newWSListener() *wsListener {
	return &wsListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *wsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *wsListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *wsListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4zero} }

// wsConn is one browser's websocket as sipgo reads it: first the upgrade
// request for sipgo's upgrader (rebuilt from what net/http read, with the
// client's key, so the handshake sipgo answers is the client's own), then
// the connection. Writes are bounded by the write timeout.
type wsConn struct {
	net.Conn
	srv     *Server
	key     string         // the remote address as sipgo names the connection
	remote  net.Addr       // the same (a relayed connection's client, not the relaying node)
	local   netip.AddrPort // where the client connected to: the arrival address
	relayed bool           // another node relays it here (wsrelay.go): never relayed again
	pre     []byte
	lim     *rate.Limiter
	flood   int       // refusals in a row; the filter's, on sipgo's reader goroutine
	kept    time.Time // a registration over it lasts until then; guarded by the Server's mu
	closed  sync.Once
	free    func()

	// What sipgo writes, frame by frame, so that the connection changes
	// hands between two frames (wsrelay.go); guarded by wmu.
	wmu      sync.Mutex
	wdone    *sync.Cond // a write ended
	upgraded bool       // the handshake's response is written
	hsTail   []byte     // its last octets so far, until then
	owed     int64      // payload octets of the frame sipgo is writing
	writing  bool
	handed   bool // the pipe to the room's node has the socket
	shut     bool // closed
}

// RemoteAddr is the client's address: for a relayed connection, the one
// the relaying node gave.
func (c *wsConn) RemoteAddr() net.Addr { return c.remote }

// Read hands sipgo the upgrade request, then the connection's octets. A
// websocket that sends nothing for the idle timeout is closed, unless it
// carries a call or a registration that has not expired (JsSIP and
// SIP.js send nothing between re-REGISTERs).
func (c *wsConn) Read(b []byte) (int, error) {
	if c.handedOver() {
		return 0, net.ErrClosed // sipgo lets go of it; the pipe reads the socket
	}
	if len(c.pre) > 0 {
		n := copy(b, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	for {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.srv.cfg.Limits.IdleTimeout))
		n, err := c.Conn.Read(b)
		if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if !c.srv.wsBusy(c) {
			c.srv.gate.closed.Add(1)
			c.srv.log.Debug("sip websocket closed", zap.String("source", c.key), zap.String("why", "idle"))
			return 0, net.ErrClosed
		}
	}
}

// keepUntil keeps the connection however quiet it is until t (a binding
// made over it expires then).
func (c *wsConn) keepUntil(t time.Time) {
	c.srv.mu.Lock()
	defer c.srv.mu.Unlock()
	if t.After(c.kept) {
		c.kept = t
	}
}

func (c *wsConn) handedOver() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.handed
}

// Close closes the connection once and gives its place back; a
// connection handed over to the room's node is only forgotten here (the
// pipe closes it and gives its place back).
func (c *wsConn) Close() error {
	err := net.ErrClosed
	c.closed.Do(func() {
		c.srv.dropWS(c)
		c.wmu.Lock()
		c.shut = true
		handed := c.handed
		c.wmu.Unlock()
		if handed {
			return
		}
		err = c.Conn.Close()
		c.free()
	})
	return err
}

// ServeWebSocket takes a websocket upgrade asking for SIP (IsSIPWebSocket)
// from a web listener: the Origin is checked as for Verto, the connection
// counts against the stream limits, and sipgo's WS transport answers the
// handshake and serves it. A websocket another node of the cluster
// relays here carries the cluster secret instead of a browser's Origin
// (a wrong one is 403), and the client's address, which the limits, the
// guard and the logs then see.
func (s *Server) ServeWebSocket(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	relayed, secretOK := s.relayedWS(r)
	switch {
	case !IsSIPWebSocket(r):
		http.Error(w, "this websocket speaks SIP (subprotocol sip)", http.StatusBadRequest)
		return
	case r.Method != http.MethodGet || r.Header.Get("Sec-WebSocket-Version") != "13" || !validWSKey(key):
		w.Header().Set("Sec-WebSocket-Version", "13")
		http.Error(w, "not a websocket upgrade (RFC 6455)", http.StatusBadRequest)
		return
	case !secretOK:
		http.Error(w, "wrong cluster secret", http.StatusForbidden)
		return
	case !relayed && !s.checkOrigin(r):
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	case s.isClosed():
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	remote, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		http.Error(w, "unknown client address", http.StatusBadRequest)
		return
	}
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if relayed {
		if client, ok := relaySource(r); ok {
			remote = client
		}
	}
	free, ok := s.conns.take(remote.Addr())
	if !ok {
		s.gate.closed.Add(1)
		http.Error(w, "too many connections", http.StatusServiceUnavailable)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		free()
		http.Error(w, "cannot take over this connection", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		free()
		return
	}
	_ = conn.SetDeadline(time.Time{})
	// What the client sent after its upgrade request and net/http read
	// ahead comes first, then the connection, through the reassembler.
	ahead, _ := brw.Reader.Peek(brw.Reader.Buffered())
	frames := newWSReassembler(conn, io.MultiReader(bytes.NewReader(bytes.Clone(ahead)), conn), s.gate.lim.maxMessage)
	c := &wsConn{Conn: frames, srv: s, key: conn.RemoteAddr().String(), remote: conn.RemoteAddr(), local: addrPortOf(conn.LocalAddr()),
		relayed: relayed, free: free,
		pre: upgradeRequest(key), lim: rate.NewLimiter(rate.Limit(s.cfg.WebSocket.MessageRate), s.cfg.WebSocket.MessageBurst)}
	c.wdone = sync.NewCond(&c.wmu)
	if relayed {
		// sipgo names the connection, and the messages over it, by the
		// client's address, unless that name is taken (a client can
		// reach two nodes from one port): then by the relaying node's.
		c.key, c.remote = remote.String(), net.TCPAddrFromAddrPort(remote)
	}
	if !s.addWS(c) {
		c.key, c.remote = conn.RemoteAddr().String(), conn.RemoteAddr()
		if !s.addWS(c) {
			_ = c.Close()
			return
		}
	}
	t := time.NewTimer(s.cfg.Limits.TLSHandshakeTimeout)
	defer t.Stop()
	select {
	case s.wsl.conns <- c:
	case <-s.wsl.done:
		_ = c.Close()
	case <-t.C: // sipgo is not serving websockets (Start was not called)
		_ = c.Close()
	}
}

// upgradeRequest is the handshake request sipgo's upgrader reads: only
// what it checks, and the client's key.
func upgradeRequest(key string) []byte {
	return []byte("GET / HTTP/1.1\r\nHost: confd\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Key: " + key + "\r\n\r\n")
}

// validWSKey: a base64 nonce of 16 octets (RFC 6455 §4.1).
func validWSKey(k string) bool {
	b, err := base64.StdEncoding.DecodeString(k)
	return err == nil && len(b) == 16
}

// checkOrigin admits browser pages from WebSocket.CheckOrigin, or by
// default from the same host only; clients that send no Origin (not
// browsers) are admitted.
func (s *Server) checkOrigin(r *http.Request) bool {
	if s.cfg.WebSocket.CheckOrigin != nil {
		return s.cfg.WebSocket.CheckOrigin(r)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// addWS names c among the websockets; false when its name is taken.
func (s *Server) addWS(c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.wsConns[c.key]; taken {
		return false
	}
	s.wsConns[c.key] = c
	return true
}

func (s *Server) dropWS(c *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wsConns[c.key] == c {
		delete(s.wsConns, c.key)
	}
}

// wsBusy reports whether c carries a browser call or a live
// registration.
func (s *Server) wsBusy(c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Now().Before(c.kept) {
		return true
	}
	for _, w := range s.webCalls {
		if w.dlg.InviteRequest.Source() == c.key {
			return true
		}
	}
	return false
}

func (s *Server) wsConn(key string) *wsConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wsConns[key]
}

var errFlood = errors.New("dialin: websocket client over the message rate")

// rateProblem refuses a request over the connection's message rate.
var rateProblem = &wireProblem{code: 503, reason: "Service Unavailable", detail: "over the message rate", extra: []string{"Retry-After: 1"}}

// readFilter is sipgo's read filter for every transport: UDP, TCP and TLS
// messages passed the gate already and go through as they are; a
// websocket's are judged here.
func (s *Server) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if !strings.EqualFold(p.Transport, "WS") {
		return data, nil
	}
	c := s.wsConn(p.RemoteAddr.String())
	if c == nil {
		return nil, net.ErrClosed
	}
	return c.filter(data)
}

// filter judges one message from the browser: CRLF keep-alives go to
// sipgo (which answers a double CRLF with a CRLF, RFC 5626 §4.4.1), the
// rate limit and the wire check come next. It runs on sipgo's reader
// goroutine of the connection.
func (c *wsConn) filter(data []byte) ([]byte, error) {
	if len(strings.Trim(string(data), "\r\n")) == 0 {
		return data, nil
	}
	var refuse *wireProblem
	if !c.lim.Allow() {
		if c.flood++; c.flood > floodLimit {
			c.srv.gate.closed.Add(1)
			return nil, errFlood
		}
		refuse = rateProblem
	} else {
		c.flood = 0
	}
	v := inspectWS(data, c.srv.gate.lim, c.local, refuse)
	if v.pass != nil {
		if c.relayInvite(v.pass) {
			return nil, nil
		}
		return v.pass, nil
	}
	if v.why == "" {
		return nil, nil
	}
	c.srv.gate.note(v, "ws", c.RemoteAddr())
	if v.reply != nil {
		c.reply(v.reply)
	}
	return nil, nil
}

// reply sends confd's own response on sipgo's connection, which frames it
// and keeps it whole among sipgo's writes.
func (c *wsConn) reply(b []byte) {
	pool := c.srv.ua.TransportLayer().Pool("ws")
	if pool == nil {
		return
	}
	conn := pool.Get(c.key)
	if conn == nil {
		return
	}
	defer func() { _, _ = conn.TryClose() }()
	if w, ok := conn.(io.Writer); ok {
		if _, err := w.Write(b); err != nil {
			c.srv.log.Debug("sip websocket reply failed", zap.Error(err))
		}
	}
}

// admitBrowser admits a REGISTER, or a request over a websocket
// (guard.admitUser).
func (s *Server) admitBrowser(req *sip.Request, now time.Time) (caller, error) {
	return s.guard.admitUser(req, sourceOf(req).Addr(), now)
}

// isWebSocket reports whether req came over a websocket.
func isWebSocket(req *sip.Request) bool { return strings.EqualFold(req.Transport(), "WS") }
