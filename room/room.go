package room

import (
	"fmt"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/mixer"
)

// Room is one conference.
type Room struct {
	cfg Config
	log *zap.Logger

	mix   *mixer.Mixer
	tones *tonePlayer // join and leave tones; started under mu

	mu          sync.Mutex
	closed      bool
	nextID      int
	members     []*Participant // join order
	publishers  []*Participant // most recent publisher first
	floor       *Participant   // the audio floor: the loudest speaker, as the mixer reports
	forcedFloor *Participant   // a moderator locked the video floor onto this member
	talkSeq     uint64         // counts talk starts, to order members by how recently they spoke
	locked      bool           // only moderators may join
	obs         Observer       // the participant list's observer, nil for none
	sink        ActivitySink   // told what happens, for operators; nil for none
	rooms       *Rooms         // the registry, for moving members between rooms
	dynamic     bool           // created by an operator, not configured
	recording   bool           // a recorder is recording the room
	recorder    Recorder       // nil: recording is not available
	tap         Tap            // the recorder's view of the room while it records; nil for none
	audioFloor  *Participant   // the floors last reported to the sink
	videoFloor  *Participant
	chat        []ChatMessage // the recent chat, oldest first, for late joiners
	onDTMF      func(p *Participant, digits string)
	viewers     []*Viewer // the audience (WHEP), not members
	nextViewer  int       // the last viewer's mixer ID (counting down from 0)
}

// Participant is one member of a room. Its fields are guarded by the room's
// mutex.
type Participant struct {
	ID   int
	Info JoinInfo

	room     *Room
	member   Member
	left     bool
	held     bool
	muted    bool
	modMuted bool // muted by a moderator: the member cannot unmute itself
	deaf     bool
	gain     int // input level -4..+4
	volume   int // output level -4..+4
	talking  bool
	lastTalk uint64 // the room's talkSeq when it last started talking; 0 never
	energy   int
	hand     bool
	audio    *mixer.Member
	camera   *forwarder.Receiver
	slots    []slot

	videoMuted  bool // a moderator (or the member) stopped its video being forwarded
	waiting     bool // in the lobby: until admitted, not mixed and not forwarded either way
	entered     bool // counted in the mix (its join tone decided); until it leaves
	reservation string
	banner      string
	lastRow     *Row // the row the observer last saw
}

type slot struct {
	track  *forwarder.DownTrack
	mid    string
	filler *Participant // who fills it now
	pinned int          // member ID the viewer pinned here, 0 for none
}

func newRoom(cfg Config, log *zap.Logger, sounds *tones, burst mixer.Burster) *Room {
	r := &Room{cfg: cfg, log: log, tones: newTonePlayer(sounds)}
	mc := mixer.Config{Speakers: cfg.Speakers, Events: mixEvents{r}, Log: log.Named("mixer"), Burst: burst}
	if cfg.Echo {
		mc.EchoDelay = EchoDelay
	}
	r.mix = mixer.New(mc)
	r.mix.Start()
	return r
}

// Number is the room's number.
func (r *Room) Number() string { return r.cfg.Number }

// Name is the room's display name (the number when none is configured).
func (r *Room) Name() string {
	if r.cfg.Name != "" {
		return r.cfg.Name
	}
	return r.cfg.Number
}

// Config is the room's configuration.
func (r *Room) Config() Config { return r.cfg }

// Dynamic reports whether an operator created the room (Rooms.Create).
func (r *Room) Dynamic() bool { return r.dynamic }

// Join adds a member.
func (r *Room) Join(m Member, info JoinInfo) (*Participant, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrRoomClosed
	}
	if r.locked && info.Role != RoleModerator {
		return nil, ErrRoomLocked
	}
	if len(r.members) >= r.cfg.MaxMembers {
		return nil, fmt.Errorf("%w (%d members)", ErrRoomFull, r.cfg.MaxMembers)
	}
	r.nextID++
	p := &Participant{ID: r.nextID, Info: info, room: r, member: m}
	p.waiting = r.cfg.Lobby && info.Role != RoleModerator
	r.members = append(r.members, p)
	if len(r.members) == 1 {
		r.reportLocked(Activity{Kind: RoomStarted})
	}
	r.reportLocked(Activity{Kind: MemberJoined, Member: refOf(p)})
	r.addedLocked(p)
	r.autoRecordLocked(true)
	r.log.Info("member joined", zap.Int("member", p.ID), zap.String("name", info.Name))
	return p, nil
}

// Leave removes a member: its video leaves every slot and its own slots
// are emptied.
func (r *Room) Leave(p *Participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left {
		return
	}
	p.left = true
	r.removedLocked(p)
	r.reportLocked(Activity{Kind: MemberLeft, Member: refOf(p)})
	if r.forcedFloor == p {
		r.forcedFloor = nil
	}
	if p.audio != nil {
		r.mix.Remove(p.audio)
		p.audio = nil
	}
	if r.floor == p {
		r.floor = nil
	}
	r.members = slices.DeleteFunc(r.members, func(o *Participant) bool { return o == p })
	r.exitLocked(p) // the leave tone, for those still here
	r.publishers = slices.DeleteFunc(r.publishers, func(o *Participant) bool { return o == p })
	r.unpublishedLocked(p)
	p.camera = nil
	for i := range p.slots {
		p.slots[i].track.SetSource(nil)
	}
	p.slots = nil
	r.reassignLocked()
	r.changedLocked()
	if len(r.members) == 0 {
		r.reportLocked(Activity{Kind: RoomFinished})
	}
	r.autoRecordLocked(false)
	r.log.Info("member left", zap.Int("member", p.ID))
}

// Publish makes recv the member's camera. The most recent publisher takes
// the video floor until speaker detection exists.
func (r *Room) Publish(p *Participant, recv *forwarder.Receiver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left {
		return
	}
	r.unpublishedLocked(p) // a new camera replaces the old one
	p.camera = recv
	r.publishedLocked(p)
	r.publishers = slices.DeleteFunc(r.publishers, func(o *Participant) bool { return o == p })
	r.publishers = slices.Insert(r.publishers, 0, p)
	r.reassignLocked()
	r.changedLocked()
}

// Unpublish removes recv as the member's camera, if it still is.
func (r *Room) Unpublish(p *Participant, recv *forwarder.Receiver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.camera != recv {
		return
	}
	r.unpublishedLocked(p)
	p.camera = nil
	r.publishers = slices.DeleteFunc(r.publishers, func(o *Participant) bool { return o == p })
	r.reassignLocked()
	r.changedLocked()
}

// SetSlots gives the member its receive slots, in the order of its offer's
// video transceivers (mids[i] names tracks[i]); nil removes them.
func (r *Room) SetSlots(p *Participant, tracks []*forwarder.DownTrack, mids []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range p.slots {
		p.slots[i].track.SetSource(nil)
	}
	p.slots = nil
	if p.left {
		return
	}
	for i, t := range tracks {
		p.slots = append(p.slots, slot{track: t, mid: mids[i]})
	}
	r.reassignLocked()
	r.notifySlotsLocked(p, r.rankedLocked())
}

// Pin asks for member memberID to be shown in the viewer's slot index
// whenever it publishes; memberID 0 releases the slot.
func (r *Room) Pin(viewer *Participant, index, memberID int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if viewer.left {
		return ErrNotInRoom
	}
	if index < 0 || index >= len(viewer.slots) {
		return fmt.Errorf("%w: %d", ErrNoSuchSlot, index)
	}
	if memberID != 0 && r.memberLocked(memberID) == nil {
		return fmt.Errorf("%w: %d", ErrNoSuchMember, memberID)
	}
	for i := range viewer.slots {
		if viewer.slots[i].pinned == memberID {
			viewer.slots[i].pinned = 0
		}
	}
	viewer.slots[index].pinned = memberID
	r.reassignLocked()
	r.notifySlotsLocked(viewer, r.rankedLocked())
	return nil
}

// SetHold records whether the member put its call on hold.
func (r *Room) SetHold(p *Participant, held bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.held = held
	if p.audio != nil {
		p.audio.SetHold(held || p.waiting)
	}
	r.changedLocked()
}

// OnDTMF sets the handler for digits members press (in-call controls).
func (r *Room) OnDTMF(f func(p *Participant, digits string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onDTMF = f
}

// DTMF hands digits a member pressed to the room.
func (r *Room) DTMF(p *Participant, digits string) {
	r.mu.Lock()
	f := r.onDTMF
	r.mu.Unlock()
	r.log.Debug("dtmf", zap.Int("member", p.ID), zap.Int("digits", len(digits)))
	if f != nil {
		f(p, digits)
	}
}

// Members lists the members in join order.
func (r *Room) Members() []MemberView {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]MemberView, 0, len(r.members))
	for _, p := range r.members {
		out = append(out, MemberView{ID: p.ID, Info: p.Info, Publishing: p.camera != nil, Held: p.held})
	}
	return out
}

// Close ends every member's call with ReasonShutdown; no one can join
// after. Once the members are told, the tones stop and the mixer closes,
// each waited for outside the room's lock (the mixer's goroutine reports
// to the room under it).
func (r *Room) Close() { r.closeFor(ReasonShutdown) }

func (r *Room) closeFor(reason Reason) {
	r.mu.Lock()
	r.closed = true
	for _, p := range r.members {
		p.member.Close(reason)
	}
	r.closeAudienceLocked()
	if r.obs != nil {
		r.obs.RoomClosed(r)
	}
	r.mu.Unlock()
	r.tones.close()
	r.mix.Close()
}

// Mixer is the room's audio mixer.
func (r *Room) Mixer() *mixer.Mixer { return r.mix }

// Kick ends a member's call with ReasonKicked.
func (r *Room) Kick(memberID int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.memberLocked(memberID)
	if p == nil {
		return fmt.Errorf("%w: %d", ErrNoSuchMember, memberID)
	}
	p.member.Close(ReasonKicked)
	return nil
}

func (r *Room) memberLocked(id int) *Participant {
	for _, p := range r.members {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// Held reports whether the member's call is on hold.
func (p *Participant) Held() bool {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.held
}

// Participant is member id, nil when it is not in the room.
func (r *Room) Participant(id int) *Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.memberLocked(id)
}
