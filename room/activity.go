package room

import (
	"time"

	"go.uber.org/zap"
)

// ActivityKind says what happened in a room.
type ActivityKind int

// What a room reports to its ActivitySink.
const (
	// RoomStarted: the first member joined an empty room.
	RoomStarted ActivityKind = iota
	// RoomFinished: the last member left.
	RoomFinished
	// MemberJoined and MemberLeft: a member (the lobby included) came or went;
	// a move to another room is a leave here and a join there.
	MemberJoined
	MemberLeft
	// MemberMuted: a member's voice left or came back into the mix (Muted,
	// ByModerator).
	MemberMuted
	// HandRaised: a member raised or lowered its hand (Raised).
	HandRaised
	// FloorChanged: the audio floor (the loudest speaker) or the video floor
	// (what everyone's first slot shows) moved (Floor, VideoFloor).
	FloorChanged
	// ChatPosted: a chat message (Chat).
	ChatPosted
	// RecordingStarted and RecordingFinished: a recorder started or stopped
	// recording the room (SetRecording).
	RecordingStarted
	RecordingFinished
	// ModeratorAction: a moderator or an operator acted on the room or a
	// member (By, ByKey, Action, Member when it had a target).
	ModeratorAction
)

// Activity is one thing that happened in a room, for operators' software
// (webhooks, event streams). Which fields are set depends on Kind.
type Activity struct {
	Kind     ActivityKind
	Time     time.Time
	Room     string // the room's number
	RoomName string

	Member      MemberRef // whom it concerns; ID 0 for none
	Muted       bool      // MemberMuted
	ByModerator bool      // MemberMuted: a moderator's mute, which the member cannot undo
	Raised      bool      // HandRaised

	Floor       MemberRef // FloorChanged: the audio floor (ID 0: nobody)
	VideoFloor  MemberRef // FloorChanged: the video floor (ID 0: nobody)
	FloorLocked bool      // FloorChanged: a moderator forced the video floor

	Chat ChatMessage // ChatPosted

	By     MemberRef // ModeratorAction: the moderator, ID 0 for an operator
	ByKey  string    // ModeratorAction: the operator's API key by name
	Action string    // ModeratorAction: the command (mute, kick, transfer, …)
	Value  string    // ModeratorAction: its argument (a room for transfer, a banner)

	Reason string // RecordingFinished: why the recorder stopped on its own (an error, a limit); "" when asked to
}

// MemberRef names a member in an Activity.
type MemberRef struct {
	ID   int
	Name string
	Kind Kind
	Role Role
}

func refOf(p *Participant) MemberRef {
	if p == nil {
		return MemberRef{}
	}
	return MemberRef{ID: p.ID, Name: p.Info.Name, Kind: p.Info.Kind, Role: p.Info.Role}
}

// ActivitySink is told what happens in rooms. Activity is called with the
// room's lock held, in the order things happened, from the mixer's
// goroutine too: it must not block, so implementations queue the activity
// and do any I/O elsewhere.
type ActivitySink interface {
	Activity(a Activity)
}

// ReportTo sets the sink of every room, and of dynamic rooms created after
// (once, before serving).
func (rs *Rooms) ReportTo(s ActivitySink) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.sink = s
	for _, r := range rs.list {
		r.mu.Lock()
		r.sink = s
		r.mu.Unlock()
	}
}

// reportLocked stamps a and hands it to the sink.
func (r *Room) reportLocked(a Activity) {
	if r.sink == nil && r.tap == nil {
		return
	}
	a.Time, a.Room, a.RoomName = time.Now(), r.cfg.Number, r.Name()
	if r.sink != nil {
		r.sink.Activity(a)
	}
	if r.tap != nil {
		r.tap.Activity(a)
	}
}

// floorsLocked reports FloorChanged when the audio or the video floor
// moved since it last looked.
func (r *Room) floorsLocked(ranked []*Participant) {
	var video *Participant
	if len(ranked) > 0 {
		video = ranked[0]
	}
	if r.floor == r.audioFloor && video == r.videoFloor {
		return
	}
	r.audioFloor, r.videoFloor = r.floor, video
	r.reportLocked(Activity{Kind: FloorChanged, Floor: refOf(r.floor), VideoFloor: refOf(video),
		FloorLocked: video != nil && video == r.forcedFloor})
}

// SetRecording marks the room as recorded or not, for the recorder to
// call; a change is reported (RecordingStarted, RecordingFinished) and
// shows in every member's row.
func (r *Room) SetRecording(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recording == on {
		return
	}
	r.recording = on
	kind := RecordingFinished
	if on {
		kind = RecordingStarted
	}
	r.reportLocked(Activity{Kind: kind})
	r.changedLocked()
}

// Recording reports whether a recorder is recording the room.
func (r *Room) Recording() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recording
}

// Actor is who acts on a room: a moderator among its members, or an
// operator's software through an API key (named, never the key itself).
type Actor struct {
	Member *Participant
	Key    string
}

// Audit writes the audit line of an action on the room and reports it as
// a ModeratorAction; target is a member ID or 0. Run and Operate audit
// their commands themselves; the operators' API calls Audit for what is
// not a command (closing the room, a system chat message, recording).
func (r *Room) Audit(a Actor, action string, target int, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auditLocked(a, action, r.targetRefLocked(target), value)
}

// targetRefLocked names member id for an audit, as far as it is still
// known.
func (r *Room) targetRefLocked(id int) MemberRef {
	if p := r.memberLocked(id); p != nil {
		return refOf(p)
	}
	return MemberRef{ID: id}
}

func (r *Room) auditLocked(a Actor, action string, target MemberRef, value string) {
	who := zap.Int("by", idOf(a.Member))
	if a.Member == nil {
		who = zap.String("key", a.Key)
	}
	r.log.Info("moderator action", zap.String("command", action), who, zap.Int("target", target.ID), zap.Int("value_len", len(value)))
	r.reportLocked(Activity{Kind: ModeratorAction, By: refOf(a.Member), ByKey: a.Key, Action: action, Value: value, Member: target})
}
