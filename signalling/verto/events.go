package verto

import "encoding/json"

// AnswerEvent is the params of S→C verto.answer and verto.media. SDP goes
// only in the first of the two sent for a call; Variables (channel variables
// with the verto_svar_ prefix) is always written, as {} when empty.
type AnswerEvent struct {
	CallID    string         `json:"callID"`
	SDP       string         `json:"sdp,omitempty"`
	Variables map[string]any `json:"variables"`
}

// MarshalJSON writes a nil Variables as {}.
func (e AnswerEvent) MarshalJSON() ([]byte, error) {
	type wire AnswerEvent
	e.Variables = nonNilMap(e.Variables)
	return json.Marshal(wire(e))
}

// ByeEvent is the params of S→C verto.bye.
type ByeEvent struct {
	CallID    string `json:"callID"`
	CauseCode int    `json:"causeCode"`
	Cause     string `json:"cause"`
}

// NewByeEvent returns a ByeEvent whose Cause is the name of causeCode.
func NewByeEvent(callID string, causeCode int) ByeEvent {
	return ByeEvent{CallID: callID, CauseCode: causeCode, Cause: CauseName(causeCode)}
}

// AttachOffer is the params of S→C verto.attach: a fresh server offer for a
// call that survived a socket loss (spec §7.2). The S→C verto.invite of
// spec §5.10 has the same members. Variables is always written.
type AttachOffer struct {
	CallID           string         `json:"callID"`
	Variables        map[string]any `json:"variables"`
	SDP              string         `json:"sdp"`
	CallerIDName     string         `json:"caller_id_name"`
	CallerIDNumber   string         `json:"caller_id_number"`
	CalleeIDName     string         `json:"callee_id_name"`
	CalleeIDNumber   string         `json:"callee_id_number"`
	DisplayDirection string         `json:"display_direction"`
}

// MarshalJSON writes a nil Variables as {}.
func (o AttachOffer) MarshalJSON() ([]byte, error) {
	type wire AttachOffer
	o.Variables = nonNilMap(o.Variables)
	return json.Marshal(wire(o))
}

// DisplayEvent is the params of S→C verto.display (optional; spec §5.4).
type DisplayEvent struct {
	CallID           string `json:"callID"`
	DisplayName      string `json:"display_name"`
	DisplayNumber    string `json:"display_number"`
	CallerIDName     string `json:"caller_id_name"`
	CallerIDNumber   string `json:"caller_id_number"`
	CalleeIDName     string `json:"callee_id_name"`
	CalleeIDNumber   string `json:"callee_id_number"`
	DisplayDirection string `json:"display_direction"`
}

// InfoEvent is the params of S→C verto.info (text message delivery). With
// CallID empty the message is not bound to a call.
type InfoEvent struct {
	CallID string  `json:"callID,omitempty"`
	Msg    InfoMsg `json:"msg"`
}

// ClientReady is the params of S→C verto.clientReady, sent after login.
// ReattachedSessions is always written as an array, never null.
type ClientReady struct {
	ReattachedSessions []string `json:"reattached_sessions"`
}

// MarshalJSON writes a nil ReattachedSessions as [].
func (c ClientReady) MarshalJSON() ([]byte, error) {
	type wire ClientReady
	if c.ReattachedSessions == nil {
		c.ReattachedSessions = []string{}
	}
	return json.Marshal(wire(c))
}

// Ping is the params of S→C verto.ping, the idle keepalive. The client may
// not answer it; never require a pong.
type Ping struct {
	Serno       int64 `json:"serno"`
	AuthExpires int64 `json:"auth-expires,omitempty"`
}

// Punt is the params of S→C verto.punt, which tells an older connection
// that a newer one took its sessid. It marshals as {}.
type Punt struct{}

// Event is the params of S→C verto.event (spec §8.2). Subscription
// deliveries carry EventSerno and SubscribedChannel; direct deliveries
// (pvtData, bootObj) carry neither, and bootObj carries Sessid. The
// conference info channel puts its payload in EventData instead of Data.
type Event struct {
	EventChannel      string `json:"eventChannel"`
	EventType         string `json:"eventType,omitempty"`
	Data              any    `json:"data,omitempty"`
	EventData         any    `json:"eventData,omitempty"`
	PvtData           any    `json:"pvtData,omitempty"`
	EventSerno        *int   `json:"eventSerno,omitempty"`
	SubscribedChannel string `json:"subscribedChannel,omitempty"`
	Sessid            string `json:"sessid,omitempty"`
}

// EventTypePvtData is the eventType of a pvtData event.
const EventTypePvtData = "channelPvtData"

// PvtData actions.
const (
	PvtActionJoin = "conference-liveArray-join"
	PvtActionPart = "conference-liveArray-part"
)

// PvtData is the pvtData of a channelPvtData event, sent straight to a
// conference member's connection on join and part (spec §9.2). ModChannel
// goes to moderators only. ConferenceMemberID is a string, CanvasCount a
// number.
type PvtData struct {
	CallID             string `json:"callID"`
	Action             string `json:"action"`
	LaChannel          string `json:"laChannel"`
	LaName             string `json:"laName"`
	Role               string `json:"role"`
	ChatID             string `json:"chatID"`
	ConferenceMemberID string `json:"conferenceMemberID"`
	CanvasCount        int    `json:"canvasCount"`
	ChatChannel        string `json:"chatChannel"`
	InfoChannel        string `json:"infoChannel"`
	ModChannel         string `json:"modChannel,omitempty"`
	SecondScreen       bool   `json:"secondScreen,omitempty"`
	ScreenShare        bool   `json:"screenShare,omitempty"`
	VideoOnly          bool   `json:"videoOnly,omitempty"`
	// Confd is confd's extension for moderators: the room's state that
	// later comes only as mod-channel responses.
	Confd *PvtConfd `json:"confd,omitempty"`
}

// PvtConfd is the room's state a moderator's pvtData carries.
type PvtConfd struct {
	Locked bool `json:"locked"`
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
