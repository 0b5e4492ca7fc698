package dialin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"go.uber.org/zap"
)

// Relaying SIP over WebSocket between the nodes of a cluster. When the
// gate of a browser's websocket passes an INVITE that starts a call (its
// To has no tag) for a room that lives on another node, the connection
// becomes a pipe to that node: this node opens a websocket (subprotocol
// sip) to the room's node with the cluster's secret and the client's
// address, sends the INVITE there as its first message, and from then on
// copies the octets both ways as they are: the client's frames (masked,
// as a client's are) go on to the room's node, whose frames come back to
// the client. sipgo lets go of the connection at once (its reader finds
// it closed; its writes are refused from the next frame on), so the
// client hears only the room's node from the INVITE on: its challenge,
// its answer (with its candidates: the media goes there), every later
// request either way. The room's node takes the client's address from
// the relay for its limits and logs, serves the connection as one of its
// own (the secret replaces the Origin check) and never relays it again.

const (
	// relaySecretHeader carries the cluster's secret on the websocket
	// upgrade of a relayed connection (relaySourceHeader the client's
	// address): the HTTP header of the other relays, never logged.
	relaySecretHeader = relayMACHeader
	// wsRouteTimeout bounds finding the room's node, wsDialTimeout the
	// websocket to it, handshake included.
	wsRouteTimeout = 3 * time.Second
	wsDialTimeout  = 5 * time.Second
	// pipeBuffer is each direction's copy buffer.
	pipeBuffer = 16 << 10
)

var errHandedOver = errors.New("dialin: the websocket is relayed to the room's node")

// relayedWS says whether r is a websocket another node relays here; ok is
// false when it claims to be one with the wrong secret.
func (s *Server) relayedWS(r *http.Request) (relayed, ok bool) {
	got := r.Header.Get(relaySecretHeader)
	if got == "" {
		return false, true
	}
	if s.relay.Secret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.relay.Secret)) != 1 {
		s.log.Warn("relayed sip websocket refused: wrong cluster secret", zap.String("remote", r.RemoteAddr))
		return false, false
	}
	return true, true
}

// relayInvite decides, on the connection's reader goroutine, whether msg
// (a message the gate passed) hands the connection over to the room's
// node. It returns true when msg is dealt with: relayed, or refused with
// a stateless response (the room cannot be placed, its node cannot be
// reached) on a websocket that lives on.
func (c *wsConn) relayInvite(msg []byte) bool {
	s := c.srv
	route := s.relay.RouteWS
	if route == nil || c.relayed || !bytes.HasPrefix(msg, []byte("INVITE ")) {
		return false
	}
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		return false
	}
	m := splitWire(msg[:end])
	to, _ := m.first("to")
	var uri sip.Uri
	if !m.request || m.method != "INVITE" || hasParam(to, "tag") || sip.ParseUri(m.uri, &uri) != nil {
		return false // in a dialog, or for sipgo to refuse
	}
	r, err := s.roomOf(uri.User)
	if err != nil || r.Echo() { // no such room: sipgo's handler says so; every node has its own echo test
		return false
	}
	if s.wsHasCall(c.key) {
		c.reply(m.reply(&wireProblem{code: 403, reason: "Forbidden",
			detail: "this websocket has a call on this node and room " + r.Number() + " lives on another: call it on a websocket of its own"}))
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsRouteTimeout)
	url, err := route(ctx, r.Number())
	cancel()
	if err != nil {
		s.log.Info("sip websocket call refused: the room cannot be placed", zap.String("room", r.Number()), zap.Error(err))
		c.reply(m.reply(&wireProblem{code: 503, reason: "Service Unavailable", detail: err.Error()}))
		return true
	}
	if url == "" {
		return false
	}
	node, br, err := s.dialRoomNode(url, c.key)
	if err != nil {
		s.log.Warn("the room's node cannot be reached", zap.String("node", url), zap.Error(err))
		c.reply(m.reply(&wireProblem{code: 503, reason: "Service Unavailable", detail: "the room's node (" + url + ") cannot be reached"}))
		return true
	}
	raw, src, ahead, ok := c.detachable()
	if !ok {
		_ = node.Close()
		return false
	}
	first := appendWSText(nil, msg) // masked, as a client's frame must be
	first = append(append(first, c.pre...), ahead...)
	p := &wsPipe{srv: s, client: raw, from: src, node: node, br: br, free: c.free, first: first,
		log: s.log.With(zap.String("source", c.key), zap.String("node", url))}
	if !s.addPipe(p) {
		_ = node.Close()
		c.reply(m.reply(&wireProblem{code: 503, reason: "Service Unavailable", detail: "shutting down"}))
		return true
	}
	if !c.handOver() { // closed meanwhile (Shutdown)
		p.close()
		s.dropPipe(p)
		s.pipeWG.Done()
		return true
	}
	c.pre = nil
	_ = raw.SetReadDeadline(time.Time{}) // the room's node keeps the idle timeout now
	p.log.Info("sip websocket relayed to the room's node", zap.String("room", r.Number()))
	go p.run() // owned by the Server: Shutdown closes the pipe and waits for it
	return true
}

// detachable is what the pipe takes of the client's side: the socket, what
// to read from (the octets net/http read ahead, then the socket), and what
// the reassembler read past the INVITE and has not handed on. ok is false
// when the reassembler is inside a frame, which cannot happen between two
// messages. Runs on sipgo's reader goroutine, which owns the reassembler.
func (c *wsConn) detachable() (raw net.Conn, src io.Reader, ahead []byte, ok bool) {
	fr, isFr := c.Conn.(*wsReassembler)
	if !isFr {
		return c.Conn, c.Conn, nil, true
	}
	if fr.pass > 0 || fr.take > 0 || fr.joining {
		return nil, nil, nil, false
	}
	ahead = append(bytes.Clone(fr.out), fr.in...)
	fr.out, fr.in = nil, nil
	return fr.Conn, fr.src, ahead, true
}

// dialRoomNode opens the relay's websocket to the room's node: the
// subprotocol sip, the cluster secret and the client's address.
func (s *Server) dialRoomNode(url, client string) (net.Conn, *bufio.Reader, error) {
	hdr := http.Header{}
	hdr.Set(relaySecretHeader, s.relay.Secret)
	hdr.Set(relaySourceHeader, client)
	d := ws.Dialer{Timeout: wsDialTimeout, Protocols: []string{WSSubprotocol}, Header: ws.HandshakeHeaderHTTP(hdr)}
	ctx, cancel := context.WithTimeout(context.Background(), wsDialTimeout)
	defer cancel()
	conn, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	if hs.Protocol != WSSubprotocol {
		_ = conn.Close()
		return nil, nil, errors.New("the room's node does not take SIP over WebSocket")
	}
	return conn, br, nil
}

// handOver gives the connection to the pipe: from the end of the frame
// sipgo may be writing, sipgo's writes are refused; Close leaves the
// socket (and its place in the limits) to the pipe. It is false when the
// connection was closed already.
func (c *wsConn) handOver() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.shut {
		return false
	}
	for c.writing || c.owed > 0 {
		c.wdone.Wait()
	}
	c.handed = true
	return true
}

// Write passes sipgo's octets to the client, and keeps count of the
// frame they belong to (gobwas writes a frame's header, then its
// payload): once the connection is handed over, a frame sipgo begins is
// refused whole, and the one it was writing has been finished.
func (c *wsConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.wmu.Lock()
	switch {
	case !c.upgraded: // the handshake's response, up to its blank line
		t := append(c.hsTail, b...)
		c.upgraded = bytes.Contains(t, []byte("\r\n\r\n"))
		c.hsTail = append(c.hsTail[:0], t[max(0, len(t)-3):]...)
	case c.owed > 0:
		c.owed -= min(c.owed, int64(len(b)))
	case c.handed:
		c.wmu.Unlock()
		return 0, errHandedOver
	default:
		c.owed = framePayload(b)
	}
	c.writing = true
	c.wmu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.srv.cfg.Limits.WriteTimeout))
	n, err := c.Conn.Write(b)
	c.wmu.Lock()
	c.writing = false
	if err != nil {
		c.owed = 0 // the connection is broken: no payload follows
	}
	c.wdone.Broadcast()
	c.wmu.Unlock()
	return n, err
}

// framePayload is the payload length a websocket frame header announces
// (RFC 6455 §5.2), less what of it b carries already.
func framePayload(b []byte) int64 {
	h, ok := parseWSHeader(b)
	if !ok || h.length > 1<<62 {
		return 0
	}
	return int64(h.length - min(h.length, uint64(len(b)-h.size)))
}

// wsHasCall reports whether a browser call runs over the websocket key.
func (s *Server) wsHasCall(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.webCalls {
		if w.dlg.InviteRequest.Source() == key {
			return true
		}
	}
	return false
}

// wsPipe is a client's websocket handed over to the room's node: octets
// copied both ways until either side closes, which closes both.
type wsPipe struct {
	srv    *Server
	client net.Conn      // the client's connection, as the web listener had it
	from   io.Reader     // what the client sends: what net/http read ahead, then client
	node   net.Conn      // the websocket to the room's node, past its handshake
	br     *bufio.Reader // what the handshake read past the node's response, or nil
	first  []byte        // the INVITE as this node's frame, and what the client sent after it that sipgo had not read
	free   func()        // the client's place in the connection limits
	log    *zap.Logger
	once   sync.Once
}

func (p *wsPipe) close() {
	p.once.Do(func() {
		_ = p.client.Close()
		_ = p.node.Close()
	})
}

// run copies the room's node's octets to the client while its helper
// copies the client's to the node, and waits for it.
func (p *wsPipe) run() {
	defer p.srv.pipeWG.Done()
	upDone := make(chan struct{})
	go func() { // owned by run, which waits for it
		defer close(upDone)
		p.up()
	}()
	var from io.Reader = p.node
	if p.br != nil && p.br.Buffered() > 0 {
		from = io.MultiReader(io.LimitReader(p.br, int64(p.br.Buffered())), p.node)
	}
	_, _ = io.CopyBuffer(writerWithDeadline{p.client, p.srv.cfg.Limits.WriteTimeout}, onlyReader{from}, make([]byte, pipeBuffer))
	p.close()
	<-upDone
	p.free()
	p.srv.dropPipe(p)
	p.log.Info("sip websocket relay ended")
}

// up sends the first frames, then the client's octets, to the node.
func (p *wsPipe) up() {
	defer p.close()
	w := writerWithDeadline{p.node, p.srv.cfg.Limits.WriteTimeout}
	if _, err := w.Write(p.first); err != nil {
		return
	}
	_, _ = io.CopyBuffer(w, onlyReader{p.from}, make([]byte, pipeBuffer))
}

// writerWithDeadline bounds each write: a side that stops reading ends
// the pipe.
type writerWithDeadline struct {
	c net.Conn
	d time.Duration
}

func (w writerWithDeadline) Write(b []byte) (int, error) {
	_ = w.c.SetWriteDeadline(time.Now().Add(w.d))
	return w.c.Write(b)
}

// onlyReader hides a connection's WriteTo, so that copies use their own
// buffer and writer.
type onlyReader struct{ io.Reader }

func (s *Server) addPipe(p *wsPipe) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.pipes[p] = struct{}{}
	s.pipeWG.Add(1) // under mu, so never after Shutdown began waiting
	return true
}

func (s *Server) dropPipe(p *wsPipe) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.pipes, p)
}

// closePipes ends the relayed websockets and waits for their goroutines.
func (s *Server) closePipes(ctx context.Context) {
	s.mu.Lock()
	pipes := make([]*wsPipe, 0, len(s.pipes))
	for p := range s.pipes {
		pipes = append(pipes, p)
	}
	s.mu.Unlock()
	for _, p := range pipes {
		p.close()
	}
	done := make(chan struct{})
	go func() { s.pipeWG.Wait(); close(done) }() // ends when the pipes have; Shutdown waits for it or its context
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("sip websocket relays still ending at shutdown")
	}
}

// relaySource is a relayed websocket's client address, from its header.
func relaySource(r *http.Request) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(r.Header.Get(relaySourceHeader)))
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
