package verto

// Result messages.
const (
	MsgLoggedIn    = "logged in"
	MsgCallCreated = "CALL CREATED"
	MsgCallEnded   = "CALL ENDED"
	MsgSent        = "SENT"
	MsgPong        = "PONG"
)

// verto.modify hold states.
const (
	HoldStateHeld   = "held"
	HoldStateActive = "active"
)

// MessageResult is a result holding only a message: login ("logged in"),
// verto.info ("SENT") and verto.ping ("PONG").
type MessageResult struct {
	Message string `json:"message"`
}

// LoginResult is the result of a successful login with the optional
// members FreeSWITCH adds from the user directory (spec §3.2).
type LoginResult struct {
	Message     string `json:"message"`
	AuthExpires int64  `json:"auth-expires,omitempty"`
	Moderator   bool   `json:"moderator,omitempty"`
	Superuser   bool   `json:"superuser,omitempty"`
	StereoAudio bool   `json:"stereoAudio,omitempty"`
	// ICEServers (confd's extension) are the STUN and TURN servers for
	// this session's calls, with fresh credentials: RTCIceServer objects.
	ICEServers any `json:"iceServers,omitempty"`
}

// InviteResult is the result of C→S verto.invite.
type InviteResult struct {
	Message string `json:"message"`
	CallID  string `json:"callID"`
}

// NewInviteResult returns {"message":"CALL CREATED","callID":callID}.
func NewInviteResult(callID string) InviteResult {
	return InviteResult{Message: MsgCallCreated, CallID: callID}
}

// ByeResult is the result of C→S verto.bye.
type ByeResult struct {
	CallID    string `json:"callID"`
	Message   string `json:"message"`
	CauseCode int    `json:"causeCode"`
	Cause     string `json:"cause"`
}

// NewByeResult returns a "CALL ENDED" result whose Cause is the name of
// causeCode.
func NewByeResult(callID string, causeCode int) ByeResult {
	return ByeResult{CallID: callID, Message: MsgCallEnded, CauseCode: causeCode, Cause: CauseName(causeCode)}
}

// SubscribeResult is the result of verto.subscribe. When nothing new was
// subscribed, Verto answers with the same members as a code-less error
// instead; see AsError.
type SubscribeResult struct {
	SubscribedChannels        []string `json:"subscribedChannels,omitempty"`
	UnauthorizedChannels      []string `json:"unauthorizedChannels,omitempty"`
	AlreadySubscribedChannels []string `json:"alreadySubscribedChannels,omitempty"`
}

// AsError returns r as the code-less error object Verto sends when nothing
// new was subscribed; with all lists empty that is {}.
func (r SubscribeResult) AsError() *Error {
	e := &Error{}
	addList(e, "subscribedChannels", r.SubscribedChannels)
	addList(e, "unauthorizedChannels", r.UnauthorizedChannels)
	addList(e, "alreadySubscribedChannels", r.AlreadySubscribedChannels)
	return e
}

// UnsubscribeResult is the result of verto.unsubscribe; when nothing was
// unsubscribed it is sent as a code-less error (AsError).
type UnsubscribeResult struct {
	UnsubscribedChannels  []string `json:"unsubscribedChannels,omitempty"`
	NotSubscribedChannels []string `json:"notSubscribedChannels,omitempty"`
}

// AsError returns r as a code-less error object.
func (r UnsubscribeResult) AsError() *Error {
	e := &Error{}
	addList(e, "unsubscribedChannels", r.UnsubscribedChannels)
	addList(e, "notSubscribedChannels", r.NotSubscribedChannels)
	return e
}

func addList(e *Error, key string, list []string) {
	if len(list) > 0 {
		e.WithField(key, list)
	}
}

// ModifyResult is the result of verto.modify. HoldState is always present;
// SDP carries the answer to an updateMedia re-offer.
type ModifyResult struct {
	CallID    string `json:"callID"`
	Action    string `json:"action"`
	HoldState string `json:"holdState"`
	SDP       string `json:"sdp,omitempty"`
}
