package signalling

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

// RelayHeader carries the cluster's shared secret on a websocket one node
// opens to another to relay a session: the node that receives it serves the
// session locally and never relays it again.
const RelayHeader = "X-Confd-Relay"

// relayLoginID is the id of the login a relaying node sends on a client's
// behalf; its reply is the relaying node's, not the client's.
const relayLoginID = `"confd-relay-login"`

// relayQueue bounds the client's frames waiting for the room's node.
const relayQueue = 256

// Relay is how the endpoint works in a cluster of nodes.
type Relay struct {
	// Route says where a room lives: "" when here, else the websocket URL
	// (ws://host:port/verto) of the node that holds it. Its error is
	// the cause a join is refused with.
	Route func(ctx context.Context, room string) (url string, err error)
	// Secret authenticates relayed sessions between nodes; it is never
	// logged.
	Secret string
}

// relayState is the Server's part of relaying.
type relayState struct {
	cfg Relay // zero: no cluster

	mu sync.Mutex
	// recent remembers, for the attach window, which node a sessid was
	// relayed to: a client that reconnects here finds its calls there.
	recent map[string]relayed
}

type relayed struct {
	url   string
	until time.Time
}

// SetRelay makes the endpoint part of a cluster; call it before serving.
func (s *Server) SetRelay(r Relay) {
	s.relay.mu.Lock()
	defer s.relay.mu.Unlock()
	s.relay.cfg = r
	s.relay.recent = map[string]relayed{}
}

func (s *Server) relayConfig() Relay {
	s.relay.mu.Lock()
	defer s.relay.mu.Unlock()
	return s.relay.cfg
}

// relayedRequest says whether r is a session another node relays here;
// ok is false when it claims to be one with the wrong secret.
func (s *Server) relayedRequest(r *http.Request) (relayed, ok bool) {
	got := r.Header.Get(RelayHeader)
	if got == "" {
		return false, true
	}
	secret := s.relayConfig().Secret
	if secret == "" || subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
		s.log.Warn("relayed session refused: wrong cluster secret", zap.String("remote", r.RemoteAddr))
		return false, false
	}
	return true, true
}

func (s *Server) rememberRelay(sessid, url string) {
	s.relay.mu.Lock()
	defer s.relay.mu.Unlock()
	now := time.Now()
	for k, v := range s.relay.recent {
		if now.After(v.until) {
			delete(s.relay.recent, k)
		}
	}
	s.relay.recent[sessid] = relayed{url: url, until: now.Add(s.cfg.AttachWindow)}
}

func (s *Server) recentRelay(sessid string) string {
	s.relay.mu.Lock()
	defer s.relay.mu.Unlock()
	v, ok := s.relay.recent[sessid]
	if !ok || time.Now().After(v.until) {
		return ""
	}
	return v.url
}

// relayLink is a session relayed to the room's node: every frame of the
// client goes there, every frame from there goes to the client.
type relayLink struct {
	url string
	out chan []byte // the client's frames, in order; closed never (the session's context ends it)
	// dropReady: the client had verto.clientReady from this node at
	// login; the room's node's, for the relayed login, is not passed on.
	dropReady bool
}

// routeInvite decides whether an invite for r is served here. It returns
// handled when the session has been relayed to the room's node (which
// answers the invite) or the invite was refused (verr).
func (s *Session) routeInvite(req *request, r *room.Room, callID string) (handled bool, verr *verto.Error) {
	rc := s.srv.relayConfig()
	if s.relayed || rc.Route == nil || r.Echo() { // every node has its own echo test
		return false, nil
	}
	ctx, cancel := context.WithTimeout(s.ctx, 3*time.Second)
	url, err := rc.Route(ctx, r.Number())
	cancel()
	if err != nil {
		s.log.Info("join refused: the room cannot be placed", zap.String("room", r.Number()), zap.Error(err))
		return true, callError(callID, verto.CauseNormalTemporaryFailure, err.Error())
	}
	if url == "" {
		return false, nil
	}
	if len(s.calls) > 0 {
		return true, callError(callID, verto.CauseCallRejected,
			"this connection has calls on this node and room "+r.Number()+" lives on another: join it on a connection of its own")
	}
	invite, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  string          `json:"method"`
		Params  json.RawMessage `json:"params"`
	}{"2.0", req.id, req.method, req.params})
	s.startRelay(url, invite)
	return true, nil
}

// resumeRelay relays at once a session that logs in again with a sessid
// relayed from here within the attach window: its calls are on that node,
// which sends verto.attach for them.
func (s *Session) resumeRelay() bool {
	if s.relayed || s.relay != nil || s.srv.relayConfig().Route == nil {
		return false
	}
	url := s.srv.recentRelay(s.sessid)
	if url == "" {
		return false
	}
	s.startRelay(url, nil)
	return true
}

// startRelay opens the relay to url; first carries the frame that made it
// (the invite), if any. Runs on the loop.
func (s *Session) startRelay(url string, first []byte) {
	login, err := s.relayLogin()
	if err != nil {
		s.log.Error("cannot relay the session", zap.Error(err))
		s.cancel()
		return
	}
	l := &relayLink{url: url, out: make(chan []byte, relayQueue), dropReady: first != nil}
	s.relay = l
	s.srv.rememberRelay(s.sessid, url)
	s.log.Info("session relayed to the room's node", zap.String("node", url))
	if first != nil {
		l.out <- first
	}
	s.spawn(func() { s.runRelay(l, login) })
}

// relayLogin is the client's own login, sent again to the room's node,
// which checks its credentials itself; it carries the session's sessid.
func (s *Session) relayLogin() ([]byte, error) {
	var params map[string]json.RawMessage
	if err := json.Unmarshal(s.loginParams, &params); err != nil {
		return nil, err
	}
	sid, _ := json.Marshal(s.sessid)
	params["sessid"] = sid
	p, _ := json.Marshal(params)
	return json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Method  string          `json:"method"`
		Params  json.RawMessage `json:"params"`
	}{"2.0", json.RawMessage(relayLoginID), verto.MethodLogin, p})
}

// relayFrame hands one of the client's frames to the relay; a client that
// outruns the room's node is disconnected. Runs on the loop.
func (s *Session) relayFrame(frame []byte) {
	select {
	case s.relay.out <- frame:
	default:
		s.log.Warn("relayed client too fast, disconnecting")
		s.cancel()
	}
}

// runRelay dials the room's node, logs in for the client, then writes the
// client's frames there while a reader hands back what the node sends.
// It returns when the session ends or the relay breaks; a broken relay
// ends the session, so that the client reconnects (and joins again).
func (s *Session) runRelay(l *relayLink, login []byte) {
	hdr := http.Header{}
	hdr.Set(RelayHeader, s.srv.relayConfig().Secret)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
	conn, _, err := d.DialContext(s.ctx, l.url, hdr)
	if err != nil {
		s.log.Warn("the room's node cannot be reached", zap.String("node", l.url), zap.Error(err))
		s.post(func() { s.relayFailed(l) })
		return
	}
	defer conn.Close()
	conn.SetReadLimit(int64(hardFrameFactor) * int64(s.srv.cfg.MaxMessageBytes))
	// The room's node pings the relay as it pings any client: a ping keeps
	// the relay alive through a quiet room.
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(pongTimeout))
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	readDone := make(chan struct{})
	go func() { // owned by runRelay, which waits for it
		defer close(readDone)
		s.relayRead(conn, l.dropReady)
	}()
	defer func() { <-readDone }()
	write := func(frame []byte) bool {
		_ = conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.WriteTimeout))
		return conn.WriteMessage(websocket.TextMessage, frame) == nil
	}
	if !write(login) {
		s.cancel()
		return
	}
	for {
		select {
		case <-s.ctx.Done():
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			_ = conn.Close()
			return
		case <-readDone:
			s.cancel()
			return
		case f := <-l.out:
			if !write(f) {
				s.cancel()
				_ = conn.Close()
				return
			}
		}
	}
}

// relayRead hands the node's frames to the client, all but the reply to
// the relayed login and, when dropReady, the node's verto.clientReady for
// it (the client had this node's at its own login).
func (s *Session) relayRead(conn *websocket.Conn, dropReady bool) {
	for {
		_ = conn.SetReadDeadline(time.Now().Add(pongTimeout))
		_, frame, err := conn.ReadMessage()
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Info("the room's node closed the relayed session", zap.Error(err))
			}
			return
		}
		if isRelayLoginReply(frame) {
			var m struct {
				Error *verto.Error `json:"error"`
			}
			if json.Unmarshal(frame, &m) == nil && m.Error != nil {
				s.log.Info("the room's node refused the relayed login", zap.String("reason", m.Error.Message))
			}
			continue
		}
		if dropReady && bytes.Contains(frame, []byte(verto.MethodClientReady)) && methodOf(frame) == verto.MethodClientReady {
			dropReady = false
			continue
		}
		s.send(frame)
	}
}

func methodOf(frame []byte) string {
	var m struct {
		Method string `json:"method"`
	}
	_ = json.Unmarshal(frame, &m)
	return m.Method
}

func isRelayLoginReply(frame []byte) bool {
	if !bytes.Contains(frame, []byte(relayLoginID)) {
		return false
	}
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	return json.Unmarshal(frame, &m) == nil && m.Method == "" && bytes.Equal(m.ID, []byte(relayLoginID))
}

// relayFailed runs on the loop when the room's node cannot be reached:
// the invites waiting for it are refused and the session is served here
// again.
func (s *Session) relayFailed(l *relayLink) {
	if s.relay != l {
		return
	}
	s.relay = nil
	for {
		select {
		case f := <-l.out:
			msg, _, verr := verto.Decode(f)
			if verr == nil && msg.Method == verto.MethodInvite {
				var p verto.InviteParams
				callID := ""
				if verto.DecodeParams(msg.Params, &p) == nil && p.DialogParams != nil {
					callID = p.DialogParams.CallID
				}
				s.sendError(msg.ID, callError(callID, verto.CauseDestinationOutOfOrder,
					"the room's node cannot be reached"))
			} else if verr == nil && msg.ID != nil && !msg.IsResponse() {
				s.sendError(msg.ID, verto.NewError(verto.CodeSessionError, "the room's node cannot be reached"))
			}
		default:
			return
		}
	}
}
