package dialin

import (
	"errors"

	"github.com/confd/confd/room"
)

// keypadDigit reads in-room keypad commands: '*' then one digit.
func (c *call) keypadDigit(d byte) {
	if d == '*' {
		c.star = true
		return
	}
	if !c.star {
		return
	}
	c.star = false
	if f, ok := keypad[d]; ok {
		f(c)
	}
}

// keypad is the table of in-room commands (documented in the README).
var keypad = map[byte]func(*call){
	'6': (*call).toggleMute,
	'1': (*call).toggleHand,
	'0': (*call).sayCount,
	'7': moderatorOnly((*call).toggleLock),
	'8': moderatorOnly((*call).muteOthers),
}

func moderatorOnly(f func(*call)) func(*call) {
	return func(c *call) {
		if c.role != room.RoleModerator {
			c.say(nil, "not-moderator")
			return
		}
		f(c)
	}
}

// toggleMute is *6: mute or unmute oneself, unless a moderator's mute
// holds.
func (c *call) toggleMute() {
	muted := !c.part.Muted()
	err := c.room.SelfMute(c.part, muted)
	switch {
	case errors.Is(err, room.ErrMuteLocked):
		c.say(nil, "mute-locked")
	case muted:
		c.say(nil, "muted")
	default:
		c.say(nil, "unmuted")
	}
}

// toggleHand is *1.
func (c *call) toggleHand() {
	up := !c.part.HandRaised()
	c.room.RaiseHand(c.part, up)
	if up {
		c.say(nil, "hand-up")
		return
	}
	c.say(nil, "hand-down")
}

// sayCount is *0: how many are in the room, the caller included.
func (c *call) sayCount() {
	c.say(nil, append([]string{"count"}, numberWords(len(c.room.Members()))...)...)
}

// toggleLock is the moderators' *7.
func (c *call) toggleLock() {
	locked := !c.room.Locked()
	c.room.SetLocked(locked)
	if locked {
		c.say(nil, "locked")
		return
	}
	c.say(nil, "unlocked")
}

// muteOthers is the moderators' *8: everyone but moderators is muted, as a
// moderator's mute.
func (c *call) muteOthers() {
	c.room.MuteAll(c.part)
	c.say(nil, "all-muted")
}
