package dialin

import (
	"errors"
	"time"

	"github.com/emiago/sipgo/sip"
	"go.uber.org/zap"

	"github.com/confd/confd/room"
)

// allowed is what confd answers to OPTIONS and 405s (RFC 3261 §20.5);
// over a websocket, browsers may also REGISTER and UPDATE.
const (
	allowed   = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
	allowedWS = allowed + ", UPDATE, REGISTER"
)

// allowFor is the Allow list for req's transport.
func allowFor(req *sip.Request) string {
	if isWebSocket(req) {
		return allowedWS
	}
	return allowed
}

// onInvite answers a new call, or a re-INVITE within one. The handler
// returns once the final response is sent (and, for a 200, the ACK came):
// the call then runs on its own goroutine.
func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil && to.Params.Has("tag") {
		s.onReinvite(req, tx)
		return
	}
	if isWebSocket(req) {
		s.onWebInvite(req, tx)
		return
	}
	c, err := s.setup(req, tx)
	if err != nil {
		s.refuse(req, tx, c, err)
		return
	}
	if c == nil { // proxied to the room's node (relay.go)
		return
	}
	s.answer(c)
}

// setup checks an INVITE and prepares its call: admission, the room, the
// offer, the PIN lockout, then the dialog and a media port.
func (s *Server) setup(req *sip.Request, tx sip.ServerTransaction) (*call, error) {
	if s.isClosed() {
		return nil, reject(503, "Service Unavailable", ErrClosed)
	}
	now := time.Now()
	who, src, err := s.admission(req, sourceOf(req), now)
	if err != nil {
		return nil, err
	}
	r, err := s.route(req)
	if err != nil {
		return nil, err
	}
	if proxied, err := s.proxyInvite(req, tx, r, who, src); proxied {
		return nil, err
	}
	c := newCall(s, r, who, callerNumber(req), src)
	if err := c.readOffer(req.Body()); err != nil {
		return nil, err
	}
	if hasPIN(r) && s.guard.lockedOut(c.pinKeys(), now) {
		return nil, reject(403, "Too Many PIN Failures", nil)
	}
	return c, c.open(req, tx)
}

// route finds the room an INVITE dials: the request-URI's user (RFC 3261
// §19.1.1), through the DID map when it has an entry.
func (s *Server) route(req *sip.Request) (*room.Room, error) {
	dest := req.Recipient.User
	if to, ok := s.cfg.DIDs[dest]; ok {
		dest = to
	}
	r, err := s.rooms.Lookup(dest)
	if err != nil {
		return nil, reject(404, "Not Found", err)
	}
	return r, nil
}

func hasPIN(r *room.Room) bool {
	cfg := r.Config()
	return cfg.PIN != "" || cfg.ModeratorPIN != ""
}

// refuse sends the final response for a failed INVITE: a statusError's
// code, else 500. After the dialog exists the response carries its tag.
func (s *Server) refuse(req *sip.Request, tx sip.ServerTransaction, c *call, err error) {
	code, reason, hdrs := 500, "Server Internal Error", []sip.Header(nil)
	var se *statusError
	if errors.As(err, &se) {
		code, reason, hdrs = se.code, se.reason, se.headers
	}
	s.log.Info("sip call refused", zap.Int("status", code), zap.String("source", req.Source()), zap.Error(err))
	if c != nil && c.dlg != nil {
		_ = c.dlg.Respond(code, reason, nil, hdrs...)
		return
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

// answer takes a prepared call to 200 OK and starts its goroutine. A room
// without a PIN is joined first, so that a full or locked room is refused
// with its own status rather than answered and hung up.
func (s *Server) answer(c *call) {
	if !s.register(c) {
		s.refuse(c.dlg.InviteRequest, nil, c, reject(503, "Service Unavailable", ErrClosed))
		c.port.close()
		return
	}
	if err := c.preAnswer(); err != nil {
		s.refuse(c.dlg.InviteRequest, nil, c, err)
		c.abort()
		return
	}
	if err := c.ring(); err != nil {
		c.log.Info("call ended before answer", zap.Error(err))
		c.abort()
		return
	}
	if err := c.respondOK(); err != nil {
		c.log.Info("answer failed", zap.Error(err))
		c.abort()
		return
	}
	go c.run()
}

// onReinvite handles a new offer within a call (RFC 3261 §14.2): hold,
// unhold, a new address or codec.
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	if w := s.lookupWeb(req); w != nil {
		s.webReoffer(w, req, tx)
		return
	}
	c := s.lookup(req)
	if c == nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := c.dlg.ReadRequest(req, tx); err != nil {
		respond(req, tx, 500, "Server Internal Error") // §14.2: an older CSeq
		return
	}
	body, err := c.reoffer(req.Body(), sourceOf(req).Addr())
	if err != nil {
		s.refuse(req, tx, nil, err)
		return
	}
	_ = tx.Respond(sip.NewSDPResponseFromRequest(req, body))
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if w := s.lookupWeb(req); w != nil {
		_ = w.dlg.ReadAck(req, tx)
		return
	}
	c := s.lookup(req)
	if c == nil {
		return // an ACK to a non-2xx is absorbed by its transaction
	}
	_ = c.dlg.ReadAck(req, tx)
	c.acked(req.Body(), sourceOf(req).Addr())
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if w := s.lookupWeb(req); w != nil {
		if err := w.dlg.ReadBye(req, tx); err != nil {
			respond(req, tx, 400, "Bad Request")
		}
		return
	}
	c := s.lookup(req)
	if c == nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := c.dlg.ReadBye(req, tx); err != nil {
		respond(req, tx, 400, "Bad Request")
	}
}

// onCancel sees only CANCELs that match no pending INVITE: sipgo answers
// the others itself, 200 to the CANCEL and 487 to the INVITE (RFC 3261 §9.2).
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	respond(req, tx, 481, "Call/Transaction Does Not Exist")
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowFor(req)))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp, application/dtmf-relay, application/dtmf"))
	_ = tx.Respond(res)
}

// onInfo takes keypad digits sent as SIP INFO, the fallback for phones
// that do not send RFC 4733 events.
func (s *Server) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	c, w := s.lookup(req), s.lookupWeb(req)
	if c == nil && w == nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	digits := infoDigits(ct, req.Body())
	if digits == "" {
		respond(req, tx, 415, "Unsupported Media Type")
		return
	}
	if w != nil {
		w.post(webEvent{digits: digits})
	} else {
		c.post(event{kind: evDigits, digits: digits})
	}
	respond(req, tx, 200, "OK")
}

// onUpdate takes a browser's new offer within its call (RFC 3311): hold,
// unhold, an ICE restart. Phone calls renegotiate with re-INVITE only.
func (s *Server) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	if !isWebSocket(req) {
		s.onNoRoute(req, tx)
		return
	}
	w := s.lookupWeb(req)
	if w == nil {
		respond(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	s.webReoffer(w, req, tx)
}

// webReoffer answers a re-INVITE or UPDATE of a browser's call.
func (s *Server) webReoffer(w *webCall, req *sip.Request, tx sip.ServerTransaction) {
	if err := w.dlg.ReadRequest(req, tx); err != nil {
		respond(req, tx, 500, "Server Internal Error") // §14.2: an older CSeq
		return
	}
	body, err := w.reoffer(req)
	if err != nil {
		s.refuse(req, tx, nil, err)
		return
	}
	_ = tx.Respond(sip.NewSDPResponseFromRequest(req, body))
}

func (s *Server) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowFor(req)))
	_ = tx.Respond(res)
}

func respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	_ = tx.Respond(sip.NewResponseFromRequest(req, code, reason, nil))
}
