package signalling

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"

	"go.uber.org/zap"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

// screenSuffix marks a screen-share call to a room (verto-spec §10).
const screenSuffix = "-screen"

func (s *Session) handleInvite(req *request) (any, *verto.Error) {
	var p verto.InviteParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	d := p.DialogParams
	if err := d.Limit(s.srv.cfg.limits()); err != nil {
		return nil, err
	}
	if s.calls[d.CallID] != nil {
		return nil, callError(d.CallID, verto.CauseCallRejected, "a call with this callID exists")
	}
	dest := strings.TrimSuffix(d.DestinationNumber, screenSuffix)
	r, err := s.srv.rooms.Lookup(dest)
	if err != nil {
		return nil, callError(d.CallID, verto.CauseNoRouteDestination, err.Error())
	}
	if handled, verr := s.routeInvite(req, r, d.CallID); handled {
		return nil, verr
	}
	info := s.joinInfo(d)
	role, verr := s.admit(r, d, info.Kind == room.KindScreen)
	if verr != nil {
		return nil, verr
	}
	info.Role = role
	c := newCall(s, d, r)
	if err := c.peer.Join(r, info); err != nil {
		return nil, callError(d.CallID, verto.CauseCallRejected, err.Error())
	}
	s.calls[c.id] = c
	s.srv.addCall(c)
	c.log.Info("call created", zap.Int("member", c.part().ID))
	// The result must be written before verto.answer (verto-spec §5.2).
	s.reply(req.id, verto.NewInviteResult(c.id))
	s.spawn(func() { c.setup(s, p.SDP) })
	return nil, nil
}

// admit decides whether the session may join r and with which role:
//   - a join token admits to its own room only, with its role;
//   - a room that requires a token admits no one without one;
//   - a room with a PIN wants dialogParams.pin (or loginParams.pin at
//     login): the PIN admits as a participant, the moderator PIN as a
//     moderator (configured moderators need none);
//   - a room whose presenters are moderators refuses others' screen shares.
func (s *Session) admit(r *room.Room, d *verto.DialogParams, screen bool) (room.Role, *verto.Error) {
	cfg, role := r.Config(), s.user.Role
	pin := d.PIN
	if pin == "" {
		pin = s.loginPIN
	}
	refuse := func(reason string) (room.Role, *verto.Error) {
		return 0, callError(d.CallID, verto.CauseCallRejected, reason)
	}
	switch g := s.user.Grant; {
	case g != nil && g.Room != r.Number() && !strings.EqualFold(g.Room, r.Name()):
		return refuse("the join token is for another room")
	case g == nil && cfg.RequireToken:
		return refuse("this room requires a join token")
	}
	if cfg.PIN != "" && role != room.RoleModerator && s.user.Grant == nil {
		switch {
		case cfg.ModeratorPIN != "" && pinEqual(pin, cfg.ModeratorPIN):
			role = room.RoleModerator
		case !pinEqual(pin, cfg.PIN):
			return refuse("this room needs its PIN")
		}
	} else if cfg.ModeratorPIN != "" && pinEqual(pin, cfg.ModeratorPIN) {
		role = room.RoleModerator
	}
	if screen && cfg.PresentModerators && role != room.RoleModerator {
		return refuse("only moderators may share a screen in this room")
	}
	return role, nil
}

// pinEqual compares PINs in constant time.
func pinEqual(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (s *Session) joinInfo(d *verto.DialogParams) room.JoinInfo {
	info := room.JoinInfo{Name: d.CallerIDName, Number: d.CallerIDNumber, Kind: room.KindBrowser, Role: s.user.Role, Key: d.CallID, UserData: d.UserVariables}
	if info.Name == "" {
		info.Name = s.user.Name
	}
	if info.Number == "" {
		info.Number = s.user.Login
	}
	if bool(d.ScreenShare) || strings.HasSuffix(d.DestinationNumber, screenSuffix) {
		info.Kind = room.KindScreen
	}
	return info
}

// callError is Verto's invite failure: -32002 "CALL ERROR" with a Q.850
// cause, plus confd's human-readable reason.
func callError(callID string, code int, reason string) *verto.Error {
	return verto.NewError(verto.CodeSessionError, "CALL ERROR").
		WithField("callID", callID).
		WithField("cause", verto.CauseName(code)).
		WithField("causeCode", code).
		WithField("reason", reason)
}

func (s *Session) handleModify(req *request) (any, *verto.Error) {
	var p verto.ModifyParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	c := s.calls[p.CallID()]
	if c == nil {
		return nil, callNotFound(p.CallID())
	}
	res := verto.ModifyResult{CallID: c.id, Action: p.Action, HoldState: verto.HoldStateActive}
	switch p.Action {
	case verto.ActionHold, verto.ActionUnhold, verto.ActionToggleHold:
		res.HoldState = c.setHold(p.Action)
	case verto.ActionVideoRefresh:
		c.peer.RefreshVideo()
	case verto.ActionUpdateMedia:
		return c.updateMedia(s, req.id, p.SDP)
	default:
		return nil, modifyError(c.id, p.Action, "unsupported action")
	}
	return res, nil
}

func modifyError(callID, action, msg string) *verto.Error {
	return verto.NewError(verto.CodeSessionError, msg).WithField("callID", callID).WithField("action", action)
}

func (c *Call) setHold(action string) string {
	m := c.peer.Where()
	held := action == verto.ActionHold || (action == verto.ActionToggleHold && !m.Part.Held())
	m.Room.SetHold(m.Part, held)
	if held {
		return verto.HoldStateHeld
	}
	return verto.HoldStateActive
}

// updateMedia answers a client re-offer on the same PeerConnection; new
// receive-video sections become new slots.
func (c *Call) updateMedia(s *Session, id []byte, offer string) (any, *verto.Error) {
	if c.peer.PC() == nil || !c.isAnswered() {
		return nil, modifyError(c.id, verto.ActionUpdateMedia, "call is not answered")
	}
	if offer == "" {
		return nil, modifyError(c.id, verto.ActionUpdateMedia, verto.MsgSDPMissing)
	}
	s.spawn(func() {
		ctx, cancel := context.WithTimeout(s.ctx, c.srv.cfg.AnswerTimeout)
		answer, err := c.peer.Renegotiate(ctx, offer)
		cancel()
		s.post(func() {
			if err != nil {
				s.sendError(id, modifyError(c.id, verto.ActionUpdateMedia, "MEDIA ERROR: "+err.Error()))
				return
			}
			s.reply(id, verto.ModifyResult{CallID: c.id, Action: verto.ActionUpdateMedia, HoldState: verto.HoldStateActive, SDP: verto.AudioFirst(offer, answer)})
			c.peer.Activate()
		})
	})
	return nil, nil
}

func (s *Session) handleAttach(req *request) (any, *verto.Error) {
	var p verto.AttachParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	c := s.calls[p.CallID()]
	if c == nil {
		return nil, callNotFound(p.CallID())
	}
	if c.peer.PC() == nil || !c.takeAttaching() {
		return nil, verto.NewError(verto.CodeSessionError, "Cannot attach to a call that has not been answered.")
	}
	id := req.id
	s.spawn(func() {
		err := c.peer.AcceptAnswer(p.SDP)
		s.post(func() { c.attached(s, id, err) })
	})
	return nil, nil
}

func (c *Call) attached(s *Session, id []byte, err error) {
	if s.calls[c.id] != c {
		return
	}
	if err != nil {
		s.sendError(id, verto.NewError(verto.CodeSessionError, "MEDIA ERROR"))
		c.hangup(verto.CauseIncompatibleDestination, true)
		return
	}
	s.reply(id, struct{}{})
	c.peer.Activate()
	// As FreeSWITCH does after an attach, the call's display again: the
	// SDKs take the room's number from it (@signalwire/js dials its
	// screen share to display_number + "-screen").
	r := c.room()
	s.request(verto.MethodDisplay, verto.DisplayEvent{
		CallID: c.id, DisplayName: r.Name(), DisplayNumber: r.Number(),
		CallerIDName: c.dialog.CallerIDName, CallerIDNumber: c.dialog.CallerIDNumber,
		CalleeIDName: r.Name(), CalleeIDNumber: r.Number(), DisplayDirection: "inbound",
	})
	c.log.Info("call reattached")
}

func (c *Call) takeAttaching() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := c.attaching
	c.attaching = false
	return ok
}

// reattach runs after login: calls detached from an earlier connection with
// this sessid get a fresh server offer (verto.attach), then
// verto.clientReady lists them (verto-spec §7.2).
func (s *Session) reattach() {
	calls := s.srv.takeDetached(s.sessid)
	for _, c := range calls {
		c.sess.Store(s)
		s.calls[c.id] = c
	}
	if len(calls) == 0 {
		s.request(verto.MethodClientReady, verto.ClientReady{})
		return
	}
	s.spawn(func() {
		offers := make([]string, len(calls))
		errs := make([]error, len(calls))
		for i, c := range calls {
			offers[i], errs[i] = c.offer(s.ctx)
		}
		s.post(func() { s.sendAttaches(calls, offers, errs) })
	})
}

func (s *Session) sendAttaches(calls []*Call, offers []string, errs []error) {
	var ids []string
	for i, c := range calls {
		if s.calls[c.id] != c {
			continue
		}
		if errs[i] != nil {
			c.log.Info("cannot reattach", zap.Error(errs[i]))
			c.hangup(verto.CauseIncompatibleDestination, true)
			continue
		}
		s.request(verto.MethodAttach, verto.AttachOffer{
			CallID: c.id, SDP: offers[i], CallerIDName: c.dialog.CallerIDName, CallerIDNumber: c.dialog.CallerIDNumber,
			CalleeIDName: c.room().Name(), CalleeIDNumber: c.room().Number(), DisplayDirection: "inbound",
		})
		ids = append(ids, c.id)
	}
	s.request(verto.MethodClientReady, verto.ClientReady{ReattachedSessions: ids})
}

// offer is a reattached call's fresh server offer, on a new PeerConnection
// (peer.Offer); verto.attach carries it, and the client's answer comes back
// as a verto.attach request.
func (c *Call) offer(ctx context.Context) (string, error) {
	c.mu.Lock()
	c.attaching = true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.srv.cfg.AnswerTimeout)
	defer cancel()
	return c.peer.Offer(ctx)
}

const methodPin = "confd.pin"

// pinParams are the params of confd.pin (docs/protocol.md).
type pinParams struct {
	CallID   string `json:"callID"`
	Slot     int    `json:"slot"`
	MemberID int    `json:"memberID"`
}

func (s *Session) handlePin(req *request) (any, *verto.Error) {
	var p pinParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	c := s.calls[p.CallID]
	if c == nil {
		return nil, callNotFound(p.CallID)
	}
	m := c.peer.Where()
	err := m.Room.Pin(m.Part, p.Slot, p.MemberID)
	switch {
	case errors.Is(err, room.ErrNoSuchSlot), errors.Is(err, room.ErrNoSuchMember):
		return nil, verto.NewError(verto.CodeInvalidParams, err.Error())
	case err != nil:
		return nil, verto.NewError(verto.CodeSessionError, err.Error())
	}
	return verto.MessageResult{Message: "PINNED"}, nil
}
