package signalling

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/confd/confd/signalling/verto"
)

const (
	outQueue    = 1024             // frames queued for the writer before the client counts as stalled
	pongTimeout = 75 * time.Second // no frame or pong for this long: the socket is dead
	// closeGrace is how long a closing socket waits for the client's close
	// frame, reading and discarding what it still sends, before the TCP
	// connection is closed. Closing with unread input would reset the
	// connection, and the client would lose the close frame (1006).
	closeGrace = 2 * time.Second
	// hardFrameFactor times MaxMessageBytes is the frame that closes the
	// socket (1009) as soon as its header announces it: a frame between
	// the two is read to its end, refused, and the session lives on.
	hardFrameFactor = 2
	// floodLimit is how many frames in a row may be refused by the rate
	// limiter before the socket is closed as abusive (1008).
	floodLimit = 100
	// CodeRateLimited is confd's JSON-RPC error for a frame over the rate limit.
	CodeRateLimited = -32005
	// CodeTooLarge is confd's JSON-RPC error for a frame over the size limit.
	CodeTooLarge = -32006
)

// Session is one websocket connection.
type Session struct {
	srv    *Server
	conn   *websocket.Conn
	log    *zap.Logger
	ctx    context.Context
	cancel context.CancelFunc

	outMu     sync.Mutex
	out       chan outFrame
	outClosed bool

	inboxMu sync.Mutex
	inbox   []func()
	wake    chan struct{}

	frames   chan []byte
	gone     chan struct{}  // closed when the session has ended and let go of its calls
	work     sync.WaitGroup // the loop's background work (spawn), waited for by run
	readDone chan struct{}  // closed when readLoop has returned

	// stalled is set when the client let the outbound queue fill up: the
	// socket is closed at once, without a close handshake.
	stalled atomic.Bool

	closeMu   sync.Mutex
	closing   bool   // the close handshake has begun: the read deadline is no longer extended
	closeCode int    // the close frame's status code; 0: normal closure (1000)
	closeText string // and its reason

	// Owned by the loop.
	sessid   string
	user     *User
	authed   bool
	calls    map[string]*Call
	lastRecv time.Time
	punted   bool
	loginPIN string // loginParams.pin: a room PIN for calls that send none
	speed    *speedTest
	host     string // the websocket request's Host (ICE server URLs)

	// Cluster relaying (relay.go), owned by the loop: relayed marks a
	// session another node relays here; relay, one this node relays to
	// the room's node; loginParams are the login's, to log in there.
	relayed     bool
	relay       *relayLink
	loginParams []byte

	loginMu sync.Mutex // guards loginName for the Server's takeover check
	login   string
}

func newSession(srv *Server, conn *websocket.Conn, remote string) *Session {
	ctx, cancel := context.WithCancel(srv.ctx)
	return &Session{
		srv: srv, conn: conn, ctx: ctx, cancel: cancel,
		log:      srv.log.With(zap.String("remote", remote)),
		out:      make(chan outFrame, outQueue),
		wake:     make(chan struct{}, 1),
		frames:   make(chan []byte),
		gone:     make(chan struct{}),
		readDone: make(chan struct{}),
		calls:    map[string]*Call{},
	}
}

func (s *Session) run() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.writeLoop() }()
	go func() { defer wg.Done(); s.readLoop() }()
	s.loop()
	s.closeOut()
	wg.Wait()
	s.work.Wait()
}

// spawn runs f on a goroutine of the session's: work the loop must not
// wait for (building an answer, ICE gathering), which posts its outcome
// back. Only the loop calls it; run waits for every such goroutine after
// the loop has ended (the session's context is cancelled by then, which
// ends any gathering).
func (s *Session) spawn(f func()) {
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		f()
	}()
}

// post runs f on the session loop. It never blocks.
func (s *Session) post(f func()) {
	s.inboxMu.Lock()
	s.inbox = append(s.inbox, f)
	s.inboxMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Session) drainInbox() {
	s.inboxMu.Lock()
	fs := s.inbox
	s.inbox = nil
	s.inboxMu.Unlock()
	for _, f := range fs {
		f()
	}
}

// outFrame is a frame for the writer; written, when set, is closed once the
// frame is on the socket.
type outFrame struct {
	data    []byte
	written chan struct{}
}

// send queues a frame for the writer. A client that lets the queue fill up
// is disconnected.
func (s *Session) send(frame []byte) { s.sendFrame(outFrame{data: frame}) }

func (s *Session) sendFrame(f outFrame) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if s.outClosed {
		return
	}
	select {
	case s.out <- f:
	default:
		s.log.Warn("client too slow, disconnecting", zap.Int("queued", len(s.out)))
		s.stalled.Store(true)
		s.outClosed = true
		close(s.out)
		s.cancel()
		// The writer is most likely blocked writing to this client: closing
		// the connection (which gorilla allows from any goroutine) ends
		// that write now rather than at its deadline.
		_ = s.conn.Close()
	}
}

func (s *Session) closeOut() {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if !s.outClosed {
		s.outClosed = true
		close(s.out)
	}
}

// writeLoop writes the queued frames, then the close frame, and closes the
// connection once the reader has seen the client's close frame (or
// closeGrace has passed). After a write error or a stall it closes the
// connection at once.
func (s *Session) writeLoop() {
	graceful := false
	defer func() {
		if graceful {
			s.writeClose()
			s.beginClose()
			<-s.readDone
		}
		_ = s.conn.Close()
	}()
	ping := time.NewTicker(pongTimeout / 3)
	defer ping.Stop()
	for {
		select {
		case f, ok := <-s.out:
			if s.stalled.Load() {
				return
			}
			if !ok {
				graceful = true
				return
			}
			if !s.write(websocket.TextMessage, f.data) {
				return
			}
			if f.written != nil {
				close(f.written)
			}
		case <-ping.C:
			if !s.write(websocket.PingMessage, nil) {
				return
			}
		}
	}
}

func (s *Session) write(kind int, frame []byte) bool {
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
	if err := s.conn.WriteMessage(kind, frame); err != nil {
		s.cancel()
		return false
	}
	return true
}

// writeClose sends the close frame: the code closeWith set, 1001 when the
// server shuts down, else 1000. After gorilla has sent one itself (1009,
// or echoing the client's) this is refused, as it should be.
func (s *Session) writeClose() {
	s.closeMu.Lock()
	code, text := s.closeCode, s.closeText
	s.closeMu.Unlock()
	if code == 0 {
		code = websocket.CloseNormalClosure
		if s.srv.ctx.Err() != nil {
			code = websocket.CloseGoingAway
		}
	}
	msg := websocket.FormatCloseMessage(code, text)
	_ = s.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// closeWith ends the session with a close frame of the given code, sent
// after the frames already queued.
func (s *Session) closeWith(code int, text string) {
	s.closeMu.Lock()
	if s.closeCode == 0 {
		s.closeCode, s.closeText = code, text
	}
	s.closeMu.Unlock()
	s.cancel()
}

// extendRead moves the read deadline pongTimeout ahead, unless the close
// handshake has begun.
func (s *Session) extendRead() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closing {
		return nil
	}
	return s.conn.SetReadDeadline(time.Now().Add(pongTimeout))
}

// beginClose gives the reader closeGrace to see the client's close frame.
func (s *Session) beginClose() {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if !s.closing {
		s.closing = true
		_ = s.conn.SetReadDeadline(time.Now().Add(closeGrace))
	}
}

// readLoop reads frames, enforcing the size and rate limits, and hands them
// to the loop. Oversized or rate-limited frames get an error reply and the
// session lives on; every frame, oversized ones included, counts against
// the rate limit. Once the session ends it reads on and discards, until the
// client's close frame or closeGrace.
func (s *Session) readLoop() {
	defer close(s.readDone)
	defer s.cancel()
	s.conn.SetReadLimit(int64(hardFrameFactor) * int64(s.srv.cfg.MaxMessageBytes))
	_ = s.extendRead()
	s.conn.SetPongHandler(func(string) error { return s.extendRead() })
	limiter := rate.NewLimiter(rate.Limit(s.srv.cfg.MessageRate), s.srv.cfg.MessageBurst)
	// Speed-test blocks come in bursts of hundreds; they have a budget of
	// their own (about 1 MB at once, 200 kB/s after) instead of the
	// request limit.
	speed := rate.NewLimiter(200, speedTestMaxBytes/speedBlock+8)
	refused := 0
	for {
		frame, err := s.readFrame()
		tooLarge := errors.Is(err, errFrameTooLarge)
		if err != nil && !tooLarge {
			s.drainAfter(err)
			return
		}
		_ = s.extendRead()
		if !tooLarge && isSpeedBlock(frame) && speed.Allow() {
			if !s.forward(frame) {
				s.drain()
				return
			}
			continue
		}
		if !limiter.Allow() {
			if refused++; refused > floodLimit {
				s.log.Warn("closing flooding client")
				s.closeWith(websocket.ClosePolicyViolation, "too many requests")
				s.drain()
				return
			}
			s.sendError(idOf(frame), verto.NewError(CodeRateLimited, "Too many requests"))
			continue
		}
		refused = 0
		if tooLarge {
			s.sendError(nil, verto.NewError(CodeTooLarge, "Message too large"))
			continue
		}
		if !s.forward(frame) {
			s.drain()
			return
		}
	}
}

// drain reads and discards frames while the session closes, until the
// client's close frame, an error, or closeGrace after the close frame went
// out (the writer's beginClose).
func (s *Session) drain() {
	for {
		_, r, err := s.conn.NextReader()
		if err != nil {
			s.drainAfter(err)
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			s.drainAfter(err)
			return
		}
	}
}

// drainAfter handles the read error that ended the reader. Past the hard
// frame limit gorilla has sent 1009 and reads no more; the rest of the
// client's frame is discarded from the socket for closeGrace, so the
// client gets the close frame rather than a reset.
func (s *Session) drainAfter(err error) {
	if !errors.Is(err, websocket.ErrReadLimit) {
		return
	}
	s.log.Info("closing client: frame over the hard limit")
	s.cancel()
	s.beginClose()
	_, _ = io.Copy(io.Discard, s.conn.UnderlyingConn())
}

// forward hands a frame to the loop; false when the session ends first.
func (s *Session) forward(frame []byte) bool {
	select {
	case s.frames <- frame:
		return true
	case <-s.ctx.Done():
		return false
	}
}

var errFrameTooLarge = errors.New("frame too large")

// readFrame reads one text frame of at most MaxMessageBytes; a larger one
// is read to its end and refused (one over the hard limit ends the read
// at its header, with ErrReadLimit).
func (s *Session) readFrame() ([]byte, error) {
	kind, r, err := s.conn.NextReader()
	if err != nil {
		return nil, err
	}
	limit := int64(s.srv.cfg.MaxMessageBytes)
	frame, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(frame)) > limit {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, err
		}
		return nil, errFrameTooLarge
	}
	if kind != websocket.TextMessage {
		return []byte{}, nil // decodes as a parse error, with a reply
	}
	return frame, nil
}

func (s *Session) loop() {
	defer s.end()
	ping := time.NewTicker(s.srv.cfg.PingInterval / 2)
	defer ping.Stop()
	s.lastRecv = time.Now()
	for {
		select {
		case <-s.ctx.Done():
			return
		case frame := <-s.frames:
			s.lastRecv = time.Now()
			s.handleFrame(frame)
		case <-s.wake:
			s.drainInbox()
		case <-ping.C:
			s.keepalive()
		}
	}
}

// keepalive sends verto.ping after an idle interval; no reply is required
// (verto-spec §4): dead sockets are found by websocket pings.
func (s *Session) keepalive() {
	if s.authed && time.Since(s.lastRecv) >= s.srv.cfg.PingInterval {
		s.request("verto.ping", verto.Ping{Serno: time.Now().Unix()})
	}
}

// end runs when the loop stops: answered calls are detached for a
// reconnect, the others hung up. The calls are detached before the sessid
// is released, so a new session that finds the sessid free finds them too;
// one that found this session still holding it waits for gone.
func (s *Session) end() {
	s.drainInbox()
	s.srv.hub.unsubscribeAll(s)
	for _, c := range s.calls {
		s.dropCall(c)
	}
	s.calls = nil
	if s.authed {
		s.srv.release(s)
	}
	close(s.gone)
}

func (s *Session) dropCall(c *Call) {
	if !s.punted && c.canRecover() {
		c.detachFrom(s)
		s.srv.detach(s.sessid, c)
		return
	}
	c.end(verto.CauseDestinationOutOfOrder)
}

// punt is run when a newer connection took over this session's sessid.
func (s *Session) punt() {
	s.request("verto.punt", verto.Punt{})
	for _, c := range s.calls {
		c.detachFrom(s)
		s.srv.detach(s.sessid, c)
	}
	s.calls = map[string]*Call{}
	s.punted = true
	s.cancel()
}

func (s *Session) handleFrame(frame []byte) {
	if s.relay != nil {
		s.relayFrame(frame)
		return
	}
	if len(frame) > 0 && frame[0] == '#' && s.authed {
		s.speedTest(frame)
		return
	}
	msg, id, verr := verto.Decode(frame)
	if verr != nil {
		s.sendError(id, verr)
		return
	}
	if msg.IsResponse() {
		return // replies to our requests carry nothing we act on
	}
	s.dispatch(&msg)
}

// request sends a server-originated request.
func (s *Session) request(method string, params any) {
	frame, err := verto.EncodeRequest(s.srv.requestID(), method, params)
	if err != nil {
		s.log.Error("encode request", zap.String("method", method), zap.Error(err))
		return
	}
	s.send(frame)
}

func (s *Session) reply(id json.RawMessage, result any) {
	frame, err := verto.EncodeResult(id, result, s.sessid)
	if err != nil {
		s.log.Error("encode result", zap.Error(err))
		return
	}
	s.send(frame)
}

func (s *Session) sendError(id json.RawMessage, e *verto.Error) {
	frame, err := verto.EncodeError(id, e)
	if err != nil {
		s.log.Error("encode error", zap.Error(err))
		return
	}
	s.send(frame)
}

func (s *Session) userLogin() string {
	s.loginMu.Lock()
	defer s.loginMu.Unlock()
	return s.login
}

func (s *Session) setUser(u *User, sessid string) {
	s.loginMu.Lock()
	s.login = u.Login
	s.loginMu.Unlock()
	s.user, s.sessid, s.authed = u, sessid, true
	s.log = s.log.With(zap.String("sessid", sessid), zap.String("login", u.Login))
}

func newSessid() string { return uuid.NewString() }

// idOf digs the id out of a frame refused before decoding, so the error
// reply can carry it.
func idOf(frame []byte) json.RawMessage {
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(frame, &m) != nil {
		return nil
	}
	return m.ID
}
