package dialin

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"
	"go.uber.org/zap"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
)

// webCall is a browser's call over SIP on a websocket: the sipgo dialog
// and a peer.Peer, which makes the caller a browser member of its room
// like a Verto one (its camera and microphone published, the mix and
// the floor's video on its m-lines). The webCall is the peer's Signal:
// the room and the peer reach it through the queues below, and its
// goroutine (run) hangs up, moves and runs keypad commands.
type webCall struct {
	srv  *Server
	log  *zap.Logger
	dlg  *sipgo.DialogServerSession
	p    *peer.Peer
	role room.Role

	events chan webEvent
	hangup chan string // why confd hangs up (room, media failure, shutdown)

	// A room with a PIN is joined once the keys give it: until then the
	// call is answered but in no room. Owned by run, and set before it.
	pending *room.Room
	info    room.JoinInfo
	pinKeys []pinKey
	entry   []byte
	tries   int

	star bool // owned by run: '*' pressed
}

type webEvent struct {
	digits string
	to     *room.Room // a moderator's move
}

var (
	_ peer.Signal = (*webCall)(nil)
	_ peer.Keypad = (*webCall)(nil)
	_ keypadUser  = (*webCall)(nil)
)

// Slots implements peer.Signal: a SIP client is not told who fills its
// m-lines; the first follows the room's floor.
func (*webCall) Slots(room.SlotsEvent) {}

// Layers implements peer.Signal: no SIP request names simulcast layers.
func (*webCall) Layers([]string) {}

// Failed implements peer.Signal: ICE or DTLS failed, confd hangs up.
func (c *webCall) Failed() { c.end("media failed") }

// Closed implements peer.Signal: the room ended the member (a kick, the
// room closing). It is called under the room's lock: it only queues.
func (c *webCall) Closed(reason room.Reason) { c.end(reason.String()) }

// Move implements peer.Signal: the move happens on the call goroutine.
func (c *webCall) Move(to *room.Room) error {
	select {
	case c.events <- webEvent{to: to}:
		return nil
	default:
		return errBusy
	}
}

// Digit implements peer.Keypad: an RFC 4733 key press from the peer's
// audio reader.
func (c *webCall) Digit(d byte) { c.post(webEvent{digits: string(d)}) }

func (c *webCall) post(ev webEvent) {
	select {
	case c.events <- ev:
	default: // a storm of keys: the newest are lost
	}
}

func (c *webCall) end(why string) {
	select {
	case c.hangup <- why:
	default:
	}
}

// member implements keypadUser.
func (c *webCall) member() (*room.Room, *room.Participant, room.Role) {
	m := c.p.Where()
	return m.Room, m.Part, c.role
}

// tell implements keypadUser: a browser hears no prompts; what changed
// shows in the participant list.
func (c *webCall) tell(words ...string) {
	c.log.Debug("keypad", zap.Strings("answer", words))
}

// onWebInvite answers a browser's INVITE: admission (the account's digest
// or a guest), the room, the WebRTC offer answered by a new peer, then
// 200 OK; the call runs on its own goroutine from the ACK on.
func (s *Server) onWebInvite(req *sip.Request, tx sip.ServerTransaction) {
	c, err := s.webSetup(req, tx)
	if err != nil {
		s.refuseWeb(req, tx, c, err)
		if c != nil {
			c.abort()
		}
		return
	}
	res := sip.NewSDPResponseFromRequest(c.dlg.InviteRequest, []byte(c.answer))
	res.AppendHeader(sip.NewHeader("Allow", allowedWS))
	if err := c.dlg.WriteResponse(res); err != nil {
		c.log.Info("call ended before it was confirmed", zap.Error(err))
		c.abort()
		return
	}
	if c.pending == nil {
		c.p.Activate()
	}
	c.log.Info("browser call answered", zap.Bool("pin", c.pending != nil))
	go c.run()
}

// webSetup is a browser call up to its answer, kept in answer.
type webSetup struct {
	*webCall
	answer string
}

func (s *Server) webSetup(req *sip.Request, tx sip.ServerTransaction) (*webSetup, error) {
	ws := s.cfg.WebSocket
	if s.isClosed() {
		return nil, reject(503, "Service Unavailable", ErrClosed)
	}
	who, err := s.admitBrowser(req, time.Now())
	if err != nil {
		return nil, err
	}
	r, err := s.route(req)
	if err != nil {
		return nil, err
	}
	number := ""
	if f := req.From(); f != nil {
		number = keypadSafe(f.Address.User)
	}
	keys := s.guard.pinKeys(who, number, r.Number())
	if hasPIN(r) && s.guard.lockedOut(keys, time.Now()) {
		return nil, reject(403, "Too Many PIN Failures", nil)
	}
	offer := string(req.Body())
	if err := checkWebRTCOffer(offer); err != nil {
		return nil, reject(488, "Not Acceptable Here", err)
	}
	if ws.Media == nil {
		return nil, reject(488, "Not Acceptable Here", errors.New("no WebRTC media configured"))
	}
	dlg, err := s.dialogUA(req).ReadInvite(req, tx)
	if err != nil {
		return nil, reject(400, "Bad Request", err)
	}
	_ = dlg.Respond(100, "Trying", nil)
	role := room.RoleParticipant
	if who.user != nil {
		role = who.user.Role
	}
	c := &webSetup{webCall: &webCall{srv: s, dlg: dlg, role: role, events: make(chan webEvent, 64), hangup: make(chan string, 1),
		log: s.log.With(zap.String("room", r.Number()), zap.String("call", req.CallID().Value()), zap.String("transport", "ws"))}}
	c.p = peer.New(ws.Media, c.webCall, c.log)
	if !s.registerWeb(c.webCall) {
		return c, reject(503, "Service Unavailable", ErrClosed)
	}
	c.info = browserJoinInfo(req, who)
	if hasPIN(r) {
		c.pending, c.pinKeys = r, keys // joined when the PIN is keyed in (run)
	} else if err := c.p.Join(r, c.info); err != nil {
		return c, joinRefusal(err)
	}
	ctx, cancel := context.WithTimeout(dlg.Context(), ws.AnswerTimeout)
	defer cancel()
	if c.answer, err = c.p.Answer(ctx, offer); err != nil {
		if dlg.Context().Err() != nil {
			return c, reject(487, "Request Terminated", err)
		}
		return c, reject(488, "Not Acceptable Here", err)
	}
	return c, nil
}

// joinRefusal is the status of a room's refusal.
func joinRefusal(err error) error {
	switch {
	case errors.Is(err, room.ErrRoomFull):
		return reject(486, "Busy Here", err)
	case errors.Is(err, room.ErrRoomLocked):
		return reject(403, "Conference Locked", err)
	}
	return reject(503, "Service Unavailable", err)
}

// refuseWeb sends a browser INVITE's final failure, on its dialog when
// there is one (the response carries the dialog's tag). A cancelled
// INVITE has had its 487 from sipgo.
func (s *Server) refuseWeb(req *sip.Request, tx sip.ServerTransaction, c *webSetup, err error) {
	if c != nil && c.dlg.Context().Err() != nil {
		s.log.Info("browser call cancelled", zap.String("source", req.Source()))
		return
	}
	if c != nil {
		s.refuse(req, tx, &call{dlg: c.dlg}, err)
		return
	}
	s.refuse(req, tx, nil, err)
}

// browserJoinInfo names the caller as its From display name (JsSIP's and
// SIP.js's display_name), else its account's name, else its login.
func browserJoinInfo(req *sip.Request, who caller) room.JoinInfo {
	login := ""
	name := ""
	if f := req.From(); f != nil {
		login, name = keypadSafe(f.Address.User), displaySafe(f.DisplayName)
	}
	if who.user != nil {
		login = who.user.Login
		if name == "" {
			name = who.user.Name
		}
	}
	if name == "" {
		name = login
	}
	if name == "" {
		name = "Browser"
	}
	role := room.RoleParticipant
	if who.user != nil {
		role = who.user.Role
	}
	return room.JoinInfo{Name: name, Number: login, Kind: room.KindBrowser, Role: role, Key: req.CallID().Value()}
}

// displaySafe keeps a display name printable and at most 64 characters.
func displaySafe(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(s) {
		if n >= 64 {
			break
		}
		if unicode.IsPrint(r) && r != '"' && r != '\\' {
			b.WriteRune(r)
			n++
		}
	}
	return strings.TrimSpace(b.String())
}

// checkWebRTCOffer reads a browser's offer: SDP with at least one audio
// or video section over UDP/TLS/RTP/SAVPF (DTLS-SRTP, RFC 5764) and a
// DTLS fingerprint and ICE credentials (RFC 8839), or none at all.
func checkWebRTCOffer(offer string) error {
	if strings.TrimSpace(offer) == "" {
		return errors.New("the INVITE has no offer")
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return ErrBadSDP
	}
	_, sessionFP := d.Attribute("fingerprint")
	_, sessionUfrag := d.Attribute("ice-ufrag")
	media := 0
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" && m.MediaName.Media != "video" {
			continue
		}
		if m.MediaName.Port.Value == 0 {
			continue
		}
		proto := strings.Join(m.MediaName.Protos, "/")
		if !strings.Contains(proto, "SAVPF") {
			return errors.New("a media section is not DTLS-SRTP (UDP/TLS/RTP/SAVPF)")
		}
		_, fp := m.Attribute("fingerprint")
		_, ufrag := m.Attribute("ice-ufrag")
		if !(fp || sessionFP) || !(ufrag || sessionUfrag) {
			return errors.New("a media section has no DTLS fingerprint or ICE credentials")
		}
		media++
	}
	if media == 0 {
		return errors.New("no audio or video to answer")
	}
	return nil
}

// offerHeld reports whether an offer holds the call (RFC 3264 §8.4): its
// audio is sendonly or inactive.
func offerHeld(offer string) bool {
	var d sdp.SessionDescription
	if d.UnmarshalString(offer) != nil {
		return false
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "sendonly" || a.Key == "inactive" {
				return true
			}
		}
	}
	return false
}

// reoffer answers a re-INVITE or UPDATE with an offer on the same
// PeerConnection: hold and unhold (the participant list shows it), new
// m-lines, an ICE restart.
func (c *webCall) reoffer(req *sip.Request) ([]byte, error) {
	offer := string(req.Body())
	if err := checkWebRTCOffer(offer); err != nil {
		return nil, reject(488, "Not Acceptable Here", err)
	}
	ctx, cancel := context.WithTimeout(c.dlg.Context(), c.srv.cfg.WebSocket.AnswerTimeout)
	defer cancel()
	answer, err := c.p.Renegotiate(ctx, offer)
	if err != nil {
		return nil, reject(488, "Not Acceptable Here", err)
	}
	c.p.Activate()
	if m := c.p.Where(); m.Part != nil {
		m.Room.SetHold(m.Part, offerHeld(offer))
	}
	return []byte(answer), nil
}

// run is the call goroutine, from the ACK to the end.
func (c *webCall) run() {
	defer c.finish()
	var pinDeadline <-chan time.Time
	if c.pending != nil {
		t := time.NewTimer(pinTimeout)
		defer t.Stop()
		pinDeadline = t.C
	}
	for {
		select {
		case <-pinDeadline:
			if c.pending != nil {
				c.end("no PIN")
			}
		case <-c.dlg.Context().Done():
			c.log.Info("browser hung up")
			return
		case why := <-c.hangup:
			c.log.Info("hanging up", zap.String("why", why))
			ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
			if err := c.dlg.Bye(ctx); err != nil {
				c.log.Info("BYE failed", zap.Error(err))
			}
			cancel()
			return
		case ev := <-c.events:
			c.handle(ev)
		}
	}
}

func (c *webCall) handle(ev webEvent) {
	if ev.to != nil {
		if err := c.p.MoveTo(ev.to, nil); err != nil {
			c.log.Info("move refused", zap.String("to", ev.to.Number()), zap.Error(err))
		}
		return
	}
	for i := 0; i < len(ev.digits); i++ {
		if c.pending != nil {
			c.pinDigit(ev.digits[i])
			continue
		}
		pressKey(c, &c.star, ev.digits[i])
	}
}

// pinDigit collects a browser's PIN as a phone's (pin.go): '#' ends it,
// '*' starts over. There are no prompts: the page asks for the PIN.
func (c *webCall) pinDigit(d byte) {
	switch {
	case d == '*':
		c.entry = c.entry[:0]
		return
	case d != '#':
		if len(c.entry) < maxPINDigits {
			c.entry = append(c.entry, d)
		}
		return
	}
	role, ok := pinRole(c.pending.Config(), c.entry)
	c.entry = nil
	if !ok {
		c.tries++
		now := time.Now()
		c.srv.guard.pinFailed(c.pinKeys, now)
		c.log.Info("wrong PIN", zap.Int("try", c.tries))
		if c.tries >= c.srv.cfg.PINAttempts || c.srv.guard.lockedOut(c.pinKeys, now) {
			c.end("wrong PIN")
		}
		return
	}
	c.srv.guard.pinPassed(c.pinKeys)
	if c.role == room.RoleModerator {
		role = room.RoleModerator
	}
	c.role, c.info.Role = role, role
	r := c.pending
	if err := c.p.Join(r, c.info); err != nil {
		c.log.Info("room refused the member", zap.Error(err))
		c.end("room refused")
		return
	}
	c.pending = nil
	c.p.Activate()
}

// finish ends the peer (it leaves the room; its goroutines are waited
// for) and the dialog. Unregistering comes last: Shutdown waits for it.
func (c *webCall) finish() {
	c.p.Shut()
	_ = c.dlg.Close()
	c.log.Info("browser call ended")
	c.srv.unregisterWeb(c)
}

// abort releases a call that never got to run.
func (c *webCall) abort() {
	c.p.Shut()
	_ = c.dlg.Close()
	c.srv.unregisterWeb(c)
}

func (s *Server) registerWeb(c *webCall) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.webCalls[c.dlg.ID] = c
	s.callsTotal++
	s.callWG.Add(1) // under mu, so never after Shutdown began waiting
	return true
}

func (s *Server) unregisterWeb(c *webCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webCalls[c.dlg.ID] == c {
		delete(s.webCalls, c.dlg.ID)
		s.callWG.Done()
	}
}

// lookupWeb finds the browser call an in-dialog request belongs to.
func (s *Server) lookupWeb(req *sip.Request) *webCall {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webCalls[id]
}
