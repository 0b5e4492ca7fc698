package dialin

import (
	"errors"

	"github.com/confd/confd/room"
)

// keypadUser is a member who presses keys in its room: a phone call, or
// a browser calling over SIP on a websocket (webcall.go).
type keypadUser interface {
	// member is where the caller is and as what; a nil participant means
	// it is not in a room (yet).
	member() (*room.Room, *room.Participant, room.Role)
	// tell speaks the answer to a command; a browser hears none (the
	// participant list shows what changed).
	tell(words ...string)
}

// keypadDigit reads in-room keypad commands: '*' then one digit.
func (c *call) keypadDigit(d byte) { pressKey(c, &c.star, d) }

// pressKey runs u's key press d; star remembers a '*' pressed before.
func pressKey(u keypadUser, star *bool, d byte) {
	if d == '*' {
		*star = true
		return
	}
	if !*star {
		return
	}
	*star = false
	if _, p, _ := u.member(); p == nil {
		return
	}
	if f, ok := keypad[d]; ok {
		f(u)
	}
}

// keypad is the table of in-room commands (documented in the README).
var keypad = map[byte]func(keypadUser){
	'6': toggleMute,
	'1': toggleHand,
	'0': sayCount,
	'7': moderatorOnly(toggleLock),
	'8': moderatorOnly(muteOthers),
}

func moderatorOnly(f func(keypadUser)) func(keypadUser) {
	return func(u keypadUser) {
		if _, _, role := u.member(); role != room.RoleModerator {
			u.tell("not-moderator")
			return
		}
		f(u)
	}
}

// toggleMute is *6: mute or unmute oneself, unless a moderator's mute
// holds.
func toggleMute(u keypadUser) {
	r, p, _ := u.member()
	muted := !p.Muted()
	err := r.SelfMute(p, muted)
	switch {
	case errors.Is(err, room.ErrMuteLocked):
		u.tell("mute-locked")
	case muted:
		u.tell("muted")
	default:
		u.tell("unmuted")
	}
}

// toggleHand is *1.
func toggleHand(u keypadUser) {
	r, p, _ := u.member()
	up := !p.HandRaised()
	r.RaiseHand(p, up)
	if up {
		u.tell("hand-up")
		return
	}
	u.tell("hand-down")
}

// sayCount is *0: how many are in the room, the caller included.
func sayCount(u keypadUser) {
	r, _, _ := u.member()
	u.tell(append([]string{"count"}, numberWords(len(r.Members()))...)...)
}

// toggleLock is the moderators' *7.
func toggleLock(u keypadUser) {
	r, _, _ := u.member()
	locked := !r.Locked()
	r.SetLocked(locked)
	if locked {
		u.tell("locked")
		return
	}
	u.tell("unlocked")
}

// muteOthers is the moderators' *8: everyone but moderators is muted, as a
// moderator's mute.
func muteOthers(u keypadUser) {
	r, p, _ := u.member()
	r.MuteAll(p)
	u.tell("all-muted")
}

// member implements keypadUser.
func (c *call) member() (*room.Room, *room.Participant, room.Role) { return c.room, c.part, c.role }

// tell implements keypadUser: the answer is a prompt.
func (c *call) tell(words ...string) { c.say(nil, words...) }
