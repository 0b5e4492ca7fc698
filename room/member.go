package room

// Member is how a room reaches a participant's endpoint (a Verto call, a
// SIP leg). Both methods are called with the room's lock held and must not
// block: implementations queue the work.
type Member interface {
	// Notify tells the member something changed.
	Notify(ev Event)
	// Close ends the member's call for reason; the endpoint then calls Leave.
	Close(reason Reason)
}

// Reason says why a room ended a member's call.
type Reason int

// Reasons a room ends a call.
const (
	ReasonShutdown   Reason = iota // the server is stopping
	ReasonKicked                   // a moderator removed the member
	ReasonRoomClosed               // an operator closed the (dynamic) room
)

func (r Reason) String() string {
	switch r {
	case ReasonShutdown:
		return "shutdown"
	case ReasonKicked:
		return "kicked"
	case ReasonRoomClosed:
		return "room closed"
	}
	return "unknown"
}

// Event is something a room tells a member.
type Event interface{ event() }

// SlotsEvent says which member now fills each of the receiver's video slots.
type SlotsEvent struct {
	Slots []SlotView
}

// SlotView is one slot as its viewer sees it.
type SlotView struct {
	Index    int    // position among the viewer's slots; 0 is the large one
	MID      string // the SDP media ID of the slot's transceiver
	MemberID int    // 0 when the slot is empty
	Name     string // the member's display name
	Floor    bool   // the member holds the video floor
	Pinned   bool   // the viewer pinned this member to this slot
	Banner   string // the caption a moderator set for the member's tile
	Rank     int    // the member's place in the room's ranking: 0 holds the floor, then most recent speakers
}

func (SlotsEvent) event() {}

// Kind is what sort of endpoint a member is.
type Kind int

// Member kinds.
const (
	KindBrowser Kind = iota
	KindPhone
	KindScreen
	// KindStream is a broadcaster (a WHIP publisher): it presents, as a
	// screen share does, and is heard.
	KindStream
)

// Role is what a member may do.
type Role int

// Roles.
const (
	RoleParticipant Role = iota
	RoleModerator
)

func (r Role) String() string {
	if r == RoleModerator {
		return "moderator"
	}
	return "participant"
}

// JoinInfo describes a member joining.
type JoinInfo struct {
	Name     string // display name
	Number   string // caller ID number or login (masked by phone endpoints)
	Kind     Kind
	Role     Role
	Key      string         // the endpoint's key: a Verto callID, a SIP Call-ID
	UserData map[string]any // what the client attached (verto userVariables)
}

// MemberView is a member as the participant list shows it.
type MemberView struct {
	ID         int
	Info       JoinInfo
	Publishing bool
	Held       bool
}
