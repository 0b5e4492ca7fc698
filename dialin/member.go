package dialin

import (
	"errors"

	"go.uber.org/zap"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
)

var (
	_ room.Member = (*call)(nil)
	_ room.Mover  = (*call)(nil)
)

// errBusy means the call's event queue is full.
var errBusy = errors.New("dialin: call is busy")

// Notify implements room.Member. A phone has no screen: nothing the room
// reports needs acting on. It is called under the room's lock.
func (c *call) Notify(room.Event) {}

// Close implements room.Member: the room ends the call (kick, shutdown).
// It is called under the room's lock, so it only queues the request.
func (c *call) Close(reason room.Reason) {
	select {
	case c.closing <- reason:
	default: // a reason is already queued; the call is ending anyway
	}
}

// Move implements room.Mover: a moderator moves the caller to another room
// without a new call. The move happens on the call goroutine.
func (c *call) Move(to *room.Room) error {
	select {
	case c.events <- event{kind: evMove, to: to}:
		return nil
	default:
		return errBusy
	}
}

// join makes the caller a member of its room with role.
func (c *call) join(role room.Role) error {
	p, err := c.room.Join(c, c.joinInfo(role))
	switch {
	case errors.Is(err, room.ErrRoomFull):
		return reject(486, "Busy Here", err)
	case errors.Is(err, room.ErrRoomLocked):
		return reject(403, "Conference Locked", err)
	case err != nil:
		return reject(503, "Service Unavailable", err)
	}
	c.part, c.role = p, role
	c.log.Info("joined", zap.Int("member", p.ID), zap.Stringer("role", role))
	return nil
}

func (c *call) joinInfo(role room.Role) room.JoinInfo {
	key := ""
	if c.dlg != nil {
		key = c.dlg.InviteRequest.CallID().Value()
	}
	return room.JoinInfo{Name: c.displayName(), Number: c.shownNumber(), Kind: room.KindPhone, Role: role, Key: key}
}

// enterRoom starts the in-room phase: the mix, and the lone caller told
// so. The others hear the room's join tone as the caller enters the mix.
func (c *call) enterRoom() {
	c.phase = phaseInRoom
	c.joinMix()
	if len(c.room.Members()) == 1 && !c.room.Echo() { // the echo test's callers are alone by design
		c.say(nil, "alone")
	}
}

// joinMix connects the port to the room's mixer, once media is agreed.
func (c *call) joinMix() {
	m, ok, held := c.currentMedia()
	if !ok || c.part == nil {
		return
	}
	am, err := c.room.JoinAudio(c.part, mixer.MemberOptions{In: m.codec, HasInput: true, Out: m.codec, Writer: c.port})
	if err != nil {
		c.log.Warn("cannot join the mix", zap.Error(err))
		return
	}
	c.codec, c.inMix = m.codec, true
	c.port.in.Store(am)
	c.stopPump()
	if held != c.held {
		c.held = held
		c.room.SetHold(c.part, held)
	}
}

func (c *call) leaveMix() {
	c.port.in.Store(nil)
	if c.part != nil {
		c.room.LeaveAudio(c.part)
	}
	c.inMix = false
}

// leaveRoom takes the caller out of its room (the endpoint's half of
// room.Member.Close); the room plays its leave tone.
func (c *call) leaveRoom() {
	if c.part == nil {
		return
	}
	c.leaveMix()
	c.room.Leave(c.part)
	c.part = nil
}

// move joins the other room first and leaves the old one only then, so a
// refused move (full, locked) leaves the caller where it was.
func (c *call) move(to *room.Room) {
	if c.phase != phaseInRoom || to == c.room {
		return
	}
	p, err := to.Join(c, c.joinInfo(c.role))
	if err != nil {
		c.log.Info("move refused", zap.String("to", to.Number()), zap.Error(err))
		return
	}
	c.leaveRoom()
	c.room, c.part = to, p
	c.log = c.log.With(zap.String("moved_to", to.Number()))
	c.joinMix()
	c.log.Info("moved", zap.Int("member", p.ID))
}
