package events

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/confd/confd/room"
)

// Type names an event, as the embed API names it where it has a name
// (participantJoined there is participant_joined here).
type Type string

// The events confd sends.
const (
	RoomStarted       Type = "room_started"
	RoomFinished      Type = "room_finished"
	ParticipantJoined Type = "participant_joined"
	ParticipantLeft   Type = "participant_left"
	Muted             Type = "muted"
	HandRaised        Type = "hand_raised"
	FloorChanged      Type = "floor_changed"
	Chat              Type = "chat"
	RecordingStarted  Type = "recording_started"
	RecordingFinished Type = "recording_finished"
	ModeratorAction   Type = "moderator_action"
)

// Types lists every event type, in the order of the docs.
var Types = []Type{
	RoomStarted, RoomFinished, ParticipantJoined, ParticipantLeft, Muted, HandRaised,
	FloorChanged, Chat, RecordingStarted, RecordingFinished, ModeratorAction,
}

// typeOf maps the room's activities onto event types.
var typeOf = map[room.ActivityKind]Type{
	room.RoomStarted:       RoomStarted,
	room.RoomFinished:      RoomFinished,
	room.MemberJoined:      ParticipantJoined,
	room.MemberLeft:        ParticipantLeft,
	room.MemberMuted:       Muted,
	room.HandRaised:        HandRaised,
	room.FloorChanged:      FloorChanged,
	room.ChatPosted:        Chat,
	room.RecordingStarted:  RecordingStarted,
	room.RecordingFinished: RecordingFinished,
	room.ModeratorAction:   ModeratorAction,
}

// Filter is a set of event types. The zero Filter (none named) passes
// every type but chat: chat carries what people say, so a receiver gets it
// only by naming it.
type Filter map[Type]bool

// NewFilter checks names and makes their filter.
func NewFilter(names []string) (Filter, error) {
	f := Filter{}
	for _, n := range names {
		t := Type(n)
		if _, ok := validType[t]; !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownType, n)
		}
		f[t] = true
	}
	return f, nil
}

var validType = func() map[Type]struct{} {
	m := map[Type]struct{}{}
	for _, t := range Types {
		m[t] = struct{}{}
	}
	return m
}()

// Passes reports whether events of type t go through.
func (f Filter) Passes(t Type) bool {
	if len(f) == 0 {
		return t != Chat
	}
	return f[t]
}

// Event is one event as it goes out. Its JSON is
//
//	{"id": "…", "type": "participant_joined", "time": "2006-01-02T15:04:05.999Z",
//	 "room": {"number": "3500", "name": "Lobby"}, "data": {…}}
//
// An Event is shared by every webhook and stream it goes to, and never
// changed after it is made.
type Event struct {
	ID   string    `json:"id"`
	Type Type      `json:"type"`
	Time time.Time `json:"time"`
	Room RoomRef   `json:"room"`
	Data any       `json:"data"`

	once sync.Once
	body []byte
}

// RoomRef names the room an event happened in.
type RoomRef struct {
	Number string `json:"number"`
	Name   string `json:"name"`
}

// JSON is the event's body, marshalled once, by whoever first needs it.
func (e *Event) JSON() []byte {
	e.once.Do(func() {
		e.body, _ = json.Marshal(e) // plain structs of strings, numbers and bools: cannot fail
	})
	return e.body
}

// Member is a member in an event's data.
type Member struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Kind string `json:"kind"` // browser, phone or screen
	Role string `json:"role"` // moderator or participant
}

func memberOf(m room.MemberRef) *Member {
	if m.ID == 0 {
		return nil
	}
	return &Member{ID: m.ID, Name: m.Name, Kind: m.Kind.String(), Role: m.Role.String()}
}

// The data of each type.
type (
	// MemberData: participant_joined, participant_left.
	MemberData struct {
		Member *Member `json:"member"`
	}
	// MutedData: muted.
	MutedData struct {
		Member      *Member `json:"member"`
		Muted       bool    `json:"muted"`
		ByModerator bool    `json:"by_moderator"`
	}
	// HandData: hand_raised.
	HandData struct {
		Member *Member `json:"member"`
		Raised bool    `json:"raised"`
	}
	// FloorData: floor_changed; null for nobody.
	FloorData struct {
		Floor       *Member `json:"floor"`
		VideoFloor  *Member `json:"video_floor"`
		FloorLocked bool    `json:"floor_locked"`
	}
	// ChatData: chat; member is null for a system message.
	ChatData struct {
		Member  *Member `json:"member"`
		From    string  `json:"from"`
		Name    string  `json:"name"`
		Message string  `json:"message"`
	}
	// ActionData: moderator_action.
	ActionData struct {
		By     Actor   `json:"by"`
		Action string  `json:"action"`
		Member *Member `json:"member"`
		Value  string  `json:"value,omitempty"`
	}
	// Actor is a moderator in the room, or an operator's API key by name.
	Actor struct {
		Member *Member `json:"member,omitempty"`
		Key    string  `json:"key,omitempty"`
	}
	// RecordingData: recording_finished; reason says why the recorder
	// stopped on its own (a write error, a full disk, a limit), and is
	// left out when it was asked to stop.
	RecordingData struct {
		Reason string `json:"reason,omitempty"`
	}
	// Empty: room_started, room_finished, recording_started.
	Empty struct{}
)

// eventOf makes the event of a room's activity.
func eventOf(a room.Activity) (*Event, bool) {
	t, ok := typeOf[a.Kind]
	if !ok {
		return nil, false
	}
	e := &Event{ID: uuid.NewString(), Type: t, Time: a.Time.UTC(), Room: RoomRef{Number: a.Room, Name: a.RoomName}}
	m := memberOf(a.Member)
	switch t {
	case ParticipantJoined, ParticipantLeft:
		e.Data = MemberData{Member: m}
	case Muted:
		e.Data = MutedData{Member: m, Muted: a.Muted, ByModerator: a.ByModerator}
	case HandRaised:
		e.Data = HandData{Member: m, Raised: a.Raised}
	case FloorChanged:
		e.Data = FloorData{Floor: memberOf(a.Floor), VideoFloor: memberOf(a.VideoFloor), FloorLocked: a.FloorLocked}
	case Chat:
		e.Data = ChatData{Member: m, From: a.Chat.From, Name: a.Chat.FromDisplay, Message: a.Chat.Message}
	case ModeratorAction:
		e.Data = ActionData{By: Actor{Member: memberOf(a.By), Key: a.ByKey}, Action: a.Action, Member: m, Value: a.Value}
	case RecordingFinished:
		e.Data = RecordingData{Reason: a.Reason}
	default:
		e.Data = Empty{}
	}
	return e, true
}
