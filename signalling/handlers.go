package signalling

import (
	"crypto/subtle"
	"encoding/json"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
	"github.com/confd/confd/token"
)

// request is one client request as a handler sees it.
type request struct {
	id     json.RawMessage
	method string
	params json.RawMessage
}

// handler serves one method. It returns the result to send, an error, or
// (nil, nil) when it has replied itself or will reply later.
type handler func(s *Session, req *request) (any, *verto.Error)

// handlers is the method table (verto-spec §8.4 lists FreeSWITCH's; jsapi
// and fsapi are FreeSWITCH consoles and get -32601 here).
var handlers = map[string]handler{
	verto.MethodLogin:       (*Session).handleLogin,
	verto.MethodEcho:        (*Session).handleEcho,
	verto.MethodPing:        (*Session).handlePing,
	verto.MethodInvite:      (*Session).handleInvite,
	verto.MethodAnswer:      (*Session).handleAnswer,
	verto.MethodAttach:      (*Session).handleAttach,
	verto.MethodBye:         (*Session).handleBye,
	verto.MethodInfo:        (*Session).handleInfo,
	verto.MethodModify:      (*Session).handleModify,
	verto.MethodSubscribe:   (*Session).handleSubscribe,
	verto.MethodUnsubscribe: (*Session).handleUnsubscribe,
	verto.MethodBroadcast:   (*Session).handleBroadcast,
	methodPin:               (*Session).handlePin,
	methodSlotSize:          (*Session).handleSlotSize,
	methodStats:             (*Session).handleStats,
}

var (
	errAuthRequired = verto.NewError(verto.CodeAuthRequired, "Authentication Required")
	errNoMethod     = verto.NewError(verto.CodeMethodNotFound, "Invalid Method, Missing Method or Permission Denied")
)

// dispatch runs the handler for msg. Before login only login passes, and a
// login without credentials gets -32000 too (verto-spec §3.2).
func (s *Session) dispatch(msg *verto.Message) {
	req := &request{id: msg.ID, method: msg.Method, params: msg.Params}
	if !s.authed && msg.Method != verto.MethodLogin {
		s.sendError(req.id, errAuthRequired)
		return
	}
	h, ok := handlers[msg.Method]
	if !ok {
		s.sendError(req.id, errNoMethod)
		return
	}
	res, verr := h(s, req)
	switch {
	case verr != nil:
		s.sendError(req.id, verr)
	case res != nil:
		s.reply(req.id, res)
	}
}

func (s *Session) handleLogin(req *request) (any, *verto.Error) {
	var p verto.LoginParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	if !p.HasLogin() {
		return nil, errAuthRequired
	}
	lim := s.srv.cfg.limits()
	if err := lim.CheckID("login", p.Login); err != nil {
		return nil, err
	}
	if err := lim.CheckID("sessid", p.Sessid); err != nil {
		return nil, err
	}
	if p.Passwd == "" {
		return nil, verto.NewError(verto.CodeAuthFailed, "Missing passwd")
	}
	user, verr := s.srv.authenticate(p.Login, p.Passwd, tokenOf(&p))
	if verr != nil {
		s.log.Info("login refused", zap.String("login", p.Login), zap.String("reason", verr.Message))
		return nil, verr
	}
	sessid := p.Sessid
	if sessid == "" {
		sessid = s.sessid
	}
	if sessid == "" {
		sessid = newSessid()
	}
	old, ok := s.srv.claim(s, sessid, user)
	if !ok {
		s.sendError(req.id, verto.NewError(verto.CodeAuthFailed, verto.MsgSessionInUse))
		s.cancel()
		return nil, nil
	}
	s.setUser(user, sessid)
	s.loginParams = req.params
	s.loginPIN, _ = p.LoginParams["pin"].(string)
	s.log.Info("logged in", zap.String("role", user.Role.String()))
	res := verto.LoginResult{Message: verto.MsgLoggedIn, Moderator: user.Role == room.RoleModerator}
	if s.srv.cfg.ICEServers != nil {
		res.ICEServers = s.srv.cfg.ICEServers(s.host)
	}
	s.reply(req.id, res)
	if old == nil {
		if !s.resumeRelay() { // relayed: the room's node reattaches
			s.reattach()
		}
		return nil, nil
	}
	// The punted session detaches its calls as it stops; take them over
	// then (verto-spec §7.3), not before, or they would be missed and left
	// to the attach window.
	s.spawn(func() {
		select {
		case <-old.gone:
			s.post(s.reattach)
		case <-s.ctx.Done():
		}
	})
	return nil, nil
}

// tokenOf finds a join token: loginParams.token, or the password of the
// login "token".
func tokenOf(p *verto.LoginParams) string {
	if t, ok := p.LoginParams["token"].(string); ok {
		return t
	}
	if name, _, _ := strings.Cut(p.Login, "@"); name == "token" {
		return p.Passwd
	}
	return ""
}

// authenticate checks a join token, or a login ("user" or "user@domain")
// against the configured users; other logins are guests when guests are
// allowed.
func (srv *Server) authenticate(login, passwd, tok string) (*User, *verto.Error) {
	if tok != "" {
		g, err := token.Verify(tok, srv.cfg.TokenSecret, time.Now())
		if err != nil {
			return nil, verto.NewError(verto.CodeAuthFailed, "Authentication Failure: "+err.Error())
		}
		return &User{Login: "token", Name: verto.Clip(g.Name, srv.cfg.MaxNameLength), Role: g.Role, Grant: &g}, nil
	}
	name, _, _ := strings.Cut(login, "@")
	for i := range srv.cfg.Users {
		u := &srv.cfg.Users[i]
		if u.Login != name {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(u.Password), []byte(passwd)) != 1 {
			return nil, verto.NewError(verto.CodeAuthFailed, "Authentication Failure")
		}
		return u, nil
	}
	if !srv.cfg.AllowGuests {
		return nil, verto.NewError(verto.CodeAuthFailed, "Login Incorrect")
	}
	return &User{Login: name, Name: verto.Clip(name, srv.cfg.MaxNameLength), Role: room.RoleParticipant}, nil
}

func (s *Session) handleEcho(req *request) (any, *verto.Error) {
	if len(req.params) == 0 {
		return nil, verto.NewError(verto.CodeSessionError, "Params data missing")
	}
	return req.params, nil
}

func (s *Session) handlePing(*request) (any, *verto.Error) {
	return verto.MessageResult{Message: verto.MsgPong}, nil
}

func (s *Session) handleBye(req *request) (any, *verto.Error) {
	var p verto.ByeParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	c := s.calls[p.CallID()]
	if c == nil {
		return nil, callNotFound(p.CallID())
	}
	code, _ := p.HangupCause()
	c.hangup(code, false)
	return verto.NewByeResult(c.id, code), nil
}

func (s *Session) handleInfo(req *request) (any, *verto.Error) {
	var p verto.InfoParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	switch {
	case p.DTMF != "":
		if c := s.calls[p.CallID()]; c != nil && c.part() != nil && !c.browserDTMF(p.DTMF) {
			c.room().DTMF(c.part(), p.DTMF)
		}
		return verto.MessageResult{Message: verto.MsgSent}, nil
	case p.Msg != nil:
		if p.Msg.To == "" || p.Msg.Body == "" {
			return nil, &verto.Error{Message: "INVALID MESSAGE to and body params required"}
		}
		return nil, verto.NewError(verto.CodeSessionError, "text messages to users are not supported; use the conference chat channel")
	}
	return struct{}{}, nil
}

func (s *Session) handleAnswer(req *request) (any, *verto.Error) {
	var p verto.AnswerParams
	if err := verto.DecodeParams(req.params, &p); err != nil {
		return nil, err
	}
	// confd never calls browsers, so there is no inbound dialog to answer.
	return nil, callNotFound(p.CallID())
}

func callNotFound(callID string) *verto.Error {
	e := verto.NewError(verto.CodeSessionError, "CALL DOES NOT EXIST")
	if callID != "" {
		e = e.WithField("callID", callID)
	}
	return e
}
