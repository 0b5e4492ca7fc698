package dialin

import (
	"crypto/subtle"
	"time"

	"go.uber.org/zap"

	"github.com/confd/confd/room"
)

// maxPINDigits bounds what a caller can type before '#'.
const maxPINDigits = 16

// pinDigit collects the PIN: '#' ends it, '*' starts over. Digits are
// taken while the prompt still plays (barge-in).
func (c *call) pinDigit(d byte) {
	switch {
	case d == '#':
		c.checkPIN()
	case d == '*':
		c.entry = c.entry[:0]
	case len(c.entry) < maxPINDigits:
		c.entry = append(c.entry, d)
	}
}

// checkPIN compares the entry with the room's PINs in constant time: the
// moderator PIN makes a moderator. The PINs are never logged.
func (c *call) checkPIN() {
	entry := c.entry
	c.entry = nil
	role, ok := pinRole(c.room.Config(), entry)
	if !ok {
		c.wrongPIN()
		return
	}
	c.srv.guard.pinPassed(c.pinKeys())
	if c.defaultRole() == room.RoleModerator {
		role = room.RoleModerator
	}
	c.port.stopPrompt()
	c.afterPIN(role)
}

// pinRole checks entry against a room's PINs: the moderator PIN makes a
// moderator.
func pinRole(cfg room.Config, entry []byte) (room.Role, bool) {
	switch {
	case cfg.ModeratorPIN != "" && equal(entry, cfg.ModeratorPIN):
		return room.RoleModerator, true
	case cfg.PIN == "" || equal(entry, cfg.PIN):
		return room.RoleParticipant, true
	}
	return room.RoleParticipant, false
}

func equal(entry []byte, pin string) bool {
	return subtle.ConstantTimeCompare(entry, []byte(pin)) == 1
}

// wrongPIN counts a failure; the last allowed one says goodbye, and so
// does one that locks the caller out (its budget may be shared with other
// calls: a trunk's room, a source's other calls).
func (c *call) wrongPIN() {
	c.tries++
	keys, now := c.pinKeys(), time.Now()
	c.srv.guard.pinFailed(keys, now)
	c.log.Info("wrong PIN", zap.Int("try", c.tries))
	if c.tries >= c.srv.cfg.PINAttempts || c.srv.guard.lockedOut(keys, now) {
		c.leaveWith("bad-pin", "goodbye")
		return
	}
	c.say(nil, "bad-pin", "pin")
}

// afterPIN joins the room, or says why it cannot and hangs up.
func (c *call) afterPIN(role room.Role) {
	err := c.join(role)
	switch {
	case err == nil:
		c.enterRoom()
	case isStatus(err, 486):
		c.leaveWith("room-full", "goodbye")
	default:
		c.leaveWith("room-locked", "goodbye")
	}
}
