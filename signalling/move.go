package signalling

import (
	"errors"

	"go.uber.org/zap"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/verto"
)

var errNotConnected = errors.New("the member's connection is not attached")

// Move implements peer.Signal: a moderator's transfer moves the call to
// another room on the same PeerConnection (peer.MoveTo), on the session
// loop. Its client gets pvtData part for the old room, then join for the
// new one (verto-spec §9.2).
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
	var from *room.Room
	err := c.peer.MoveTo(to, func(old peer.Membership) {
		from = old.Room
		c.sendPvtData(s, verto.PvtActionPart)
	})
	if err != nil {
		c.log.Info("cannot move", zap.String("to", to.Number()), zap.Error(err))
		return
	}
	s.leaveChannels(from)
	c.sendPvtData(s, verto.PvtActionJoin)
	c.log.Info("call moved", zap.String("from", from.Number()), zap.String("to", to.Number()))
}
