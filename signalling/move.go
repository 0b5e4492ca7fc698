package signalling

import (
	"errors"

	"go.uber.org/zap"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

var errNotConnected = errors.New("the member's connection is not attached")

// Move implements room.Mover: a moderator's transfer moves the call to
// another room on the same PeerConnection. The member leaves one room and
// joins the other with the same name and role, its camera, slots and audio
// follow, and its client gets pvtData part then join (verto-spec §9.2).
func (c *Call) Move(to *room.Room) error {
	s := c.sess.Load()
	if s == nil {
		return errNotConnected
	}
	s.post(func() {
		if s.calls[c.id] == c {
			c.moveTo(s, to)
		}
	})
	return nil
}

func (c *Call) moveTo(s *Session, to *room.Room) {
	from, old := c.where()
	part, err := to.Join(c, old.Info)
	if err != nil {
		c.log.Info("cannot move", zap.String("to", to.Number()), zap.Error(err))
		return
	}
	c.sendPvtData(s, verto.PvtActionPart)
	from.Leave(old)
	c.mu.Lock()
	c.room, c.part = to, part
	slots, mids, cam := c.slots, c.mids, c.camera
	c.mu.Unlock()
	s.leaveChannels(from)
	to.SetSlots(part, slots, mids)
	if cam != nil {
		to.Publish(part, cam)
	}
	c.joinAudio()
	c.sendPvtData(s, verto.PvtActionJoin)
	c.log.Info("call moved", zap.String("from", from.Number()), zap.String("to", to.Number()))
}
