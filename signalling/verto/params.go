package verto

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
)

// Client→server method names. Note that login, echo, jsapi and fsapi have no
// "verto." prefix.
const (
	MethodLogin       = "login"
	MethodEcho        = "echo"
	MethodJSAPI       = "jsapi"
	MethodFSAPI       = "fsapi"
	MethodInvite      = "verto.invite"
	MethodAnswer      = "verto.answer"
	MethodAttach      = "verto.attach"
	MethodBye         = "verto.bye"
	MethodInfo        = "verto.info"
	MethodModify      = "verto.modify"
	MethodPing        = "verto.ping"
	MethodSubscribe   = "verto.subscribe"
	MethodUnsubscribe = "verto.unsubscribe"
	MethodBroadcast   = "verto.broadcast"
)

// Server→client method names (MethodAnswer, MethodAttach, MethodBye,
// MethodInfo, MethodInvite and MethodPing are used in both directions).
const (
	MethodMedia       = "verto.media"
	MethodDisplay     = "verto.display"
	MethodEvent       = "verto.event"
	MethodPunt        = "verto.punt"
	MethodClientReady = "verto.clientReady"
	MethodMediaParams = "verto.mediaParams"
	MethodPrompt      = "verto.prompt"
)

// DecodeParams unmarshals request params into v (a pointer). Absent params
// decode as {}; unknown fields are ignored. A wrong shape gives a -32602
// error whose message names the problem, e.g. "invalid params:
// dialogParams.callID must be a string".
func DecodeParams(raw json.RawMessage, v any) *Error {
	if raw == nil || isNull(raw) {
		raw = json.RawMessage("{}")
	}
	if firstByte(raw) != '{' {
		return invalidParams(MsgParamsNotObject)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return invalidParams(describeDecodeError(err))
	}
	return nil
}

func invalidParams(detail string) *Error {
	return NewError(CodeInvalidParams, "invalid params: "+detail)
}

// describeDecodeError turns an encoding/json error into a short text that
// names the offending field.
func describeDecodeError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return te.Field + " must be " + describeType(te.Type)
	case errors.As(err, &te):
		return "params must be " + describeType(te.Type)
	case errors.As(err, &se):
		return "malformed JSON"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// describeType names the JSON shape a Go type expects.
func describeType(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[FlexBool]():
		return "a boolean"
	case reflect.TypeFor[FlexInt]():
		return "an integer"
	case reflect.TypeFor[StringList]():
		return "a string or an array of strings"
	}
	return describeKind(t.Kind())
}

func describeKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Interface, reflect.Pointer:
		return "valid"
	}
	return "a number"
}

// ParamsSessid returns params.sessid, which verto.js adds to every request,
// or "" when it is absent or not a string. The session binds the connection
// to the sessid of the first authenticated request (spec §3.1).
func ParamsSessid(raw json.RawMessage) string {
	var p struct {
		Sessid json.RawMessage `json:"sessid"`
	}
	var s string
	if DecodeParams(raw, &p) != nil || json.Unmarshal(p.Sessid, &s) != nil {
		return ""
	}
	return s
}

// LoginParams are the params of C→S "login".
type LoginParams struct {
	Login         string         `json:"login"`
	Passwd        string         `json:"passwd"`
	Sessid        string         `json:"sessid"`
	LoginParams   map[string]any `json:"loginParams"`
	UserVariables map[string]any `json:"userVariables"`
}

// HasLogin reports whether the request carries a login name. A login
// without one must be answered with -32000 even on an open server, because
// verto.js reports success only from its -32000 retry path (spec §3.2).
func (p LoginParams) HasLogin() bool { return p.Login != "" }

// DialogParams is the copy of the client dialog's params that every
// call-related request carries as params.dialogParams (spec §5.1). Only the
// fields confd reads are decoded.
type DialogParams struct {
	CallID               string         `json:"callID"`
	DestinationNumber    string         `json:"destination_number"`
	CallerIDName         string         `json:"caller_id_name"`
	CallerIDNumber       string         `json:"caller_id_number"`
	RemoteCallerIDName   string         `json:"remote_caller_id_name"`
	RemoteCallerIDNumber string         `json:"remote_caller_id_number"`
	UseVideo             FlexBool       `json:"useVideo"`
	UseStereo            FlexBool       `json:"useStereo"`
	ScreenShare          FlexBool       `json:"screenShare"`
	RecoverCall          *FlexBool      `json:"recoverCall"`
	UserVariables        map[string]any `json:"userVariables"`
	// PIN is confd's: a room's PIN (or moderator PIN) for a browser joining
	// a room that has one (docs/protocol.md).
	PIN string `json:"pin"`
}

// Validate checks that the dialog data and its callID are present: a nil p
// gives -32002 "Dialog data missing", an empty callID -32002 "CallID missing".
func (p *DialogParams) Validate() *Error {
	if p == nil {
		return NewError(CodeSessionError, MsgDialogMissing)
	}
	if p.CallID == "" {
		return NewError(CodeSessionError, MsgCallIDMissing)
	}
	return nil
}

// Recover reports whether the call may be detached and reattached after a
// socket loss; only an explicit recoverCall:false turns that off.
func (p *DialogParams) Recover() bool {
	return p == nil || p.RecoverCall == nil || bool(*p.RecoverCall)
}

// callIDOf returns d.CallID, or "" for a nil d.
func callIDOf(d *DialogParams) string {
	if d == nil {
		return ""
	}
	return d.CallID
}

// InviteParams are the params of C→S verto.invite: an SDP offer and the
// dialog. C→S verto.answer and verto.attach carry the same shape (with an SDP
// answer), hence the aliases AnswerParams and AttachParams.
type InviteParams struct {
	SDP          string        `json:"sdp"`
	Sessid       string        `json:"sessid"`
	DialogParams *DialogParams `json:"dialogParams"`
}

// AnswerParams are the params of C→S verto.answer.
type AnswerParams = InviteParams

// AttachParams are the params of C→S verto.attach.
type AttachParams = InviteParams

// CallID returns dialogParams.callID, or "".
func (p InviteParams) CallID() string { return callIDOf(p.DialogParams) }

// Validate checks, in FreeSWITCH's order, the dialog, its callID and the SDP
// (-32002 "Dialog data missing", "CallID missing", "SDP missing").
func (p InviteParams) Validate() *Error {
	if err := p.DialogParams.Validate(); err != nil {
		return err
	}
	if p.SDP == "" {
		return NewError(CodeSessionError, MsgSDPMissing)
	}
	return nil
}

// ByeParams are the params of C→S verto.bye. The 2020 verto.js sends only
// dialogParams; the 2023 one adds cause and causeCode.
type ByeParams struct {
	DialogParams *DialogParams `json:"dialogParams"`
	Cause        string        `json:"cause"`
	CauseCode    FlexInt       `json:"causeCode"`
	Sessid       string        `json:"sessid"`
}

// CallID returns dialogParams.callID, or "".
func (p ByeParams) CallID() string { return callIDOf(p.DialogParams) }

// HangupCause resolves the hangup cause the way FreeSWITCH does: a known
// cause name (other than NONE) first, then a non-zero causeCode, else
// NORMAL_CLEARING.
func (p ByeParams) HangupCause() (code int, name string) {
	if c, ok := CauseCode(p.Cause); ok && c != CauseNone {
		return c, CauseName(c)
	}
	if p.CauseCode != 0 {
		return p.CauseCode.Int(), CauseName(p.CauseCode.Int())
	}
	return CauseNormalClearing, CauseName(CauseNormalClearing)
}

// InfoParams are the params of C→S verto.info: DTMF digits, or a text
// message (Msg), for the call in DialogParams.
type InfoParams struct {
	DTMF         string        `json:"dtmf"`
	Msg          *InfoMsg      `json:"msg"`
	DialogParams *DialogParams `json:"dialogParams"`
}

// CallID returns dialogParams.callID, or "".
func (p InfoParams) CallID() string { return callIDOf(p.DialogParams) }

// InfoMsg is the text message of a verto.info (both directions). To and
// Body are required on C→S messages.
type InfoMsg struct {
	From        string   `json:"from,omitempty"`
	To          string   `json:"to"`
	Body        string   `json:"body"`
	FromMsgName string   `json:"from_msg_name,omitempty"`
	InDialog    FlexBool `json:"inDialog,omitempty"`
}

// ModifyParams are the params of C→S verto.modify.
type ModifyParams struct {
	Action        string        `json:"action"`
	SDP           string        `json:"sdp"`
	Destination   string        `json:"destination"`
	ReplaceCallID string        `json:"replaceCallID"`
	DialogParams  *DialogParams `json:"dialogParams"`
}

// CallID returns dialogParams.callID, or "".
func (p ModifyParams) CallID() string { return callIDOf(p.DialogParams) }

// verto.modify actions.
const (
	ActionHold         = "hold"
	ActionUnhold       = "unhold"
	ActionToggleHold   = "toggleHold"
	ActionTransfer     = "transfer"
	ActionReplace      = "replace"
	ActionUpdateMedia  = "updateMedia"
	ActionVideoRefresh = "videoRefresh"
)

// SubscribeParams are the params of C→S verto.subscribe and
// verto.unsubscribe. SubParams is ignored by FreeSWITCH.
type SubscribeParams struct {
	EventChannel StringList      `json:"eventChannel"`
	SubParams    json.RawMessage `json:"subParams"`
}

// BroadcastParams are the params of C→S verto.broadcast.
type BroadcastParams struct {
	EventChannel   string          `json:"eventChannel"`
	Data           json.RawMessage `json:"data"`
	LocalBroadcast FlexBool        `json:"localBroadcast"`
}
