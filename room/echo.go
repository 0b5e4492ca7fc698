package room

import (
	"fmt"
	"time"
)

// The echo test (Config.Echo), as FreeSWITCH's and Asterisk's: whoever
// calls it hears their own voice about half a second later and sees their
// own camera, which checks a microphone, a camera and the path to confd
// in one call. It is a room so that every endpoint (Verto, SIP, what comes
// later) reaches it by dialling its number, but its members are alone:
//   - the mixer gives each member its own voice, delayed by EchoDelay,
//     instead of a mix (mixer.Config.EchoDelay);
//   - each member's slots show only its own camera, delayed as much as its
//     voice (the peer reads a camera published here through a delay line);
//   - it has no participant list and no chat (no rows reach the observer),
//     so callers do not see one another, and no join and leave tones.

// EchoDelay is how long the echo test waits before playing a member's
// voice back: long enough to hear oneself apart from one's own speaking,
// as FreeSWITCH's delay_echo and Asterisk's echo tests do, short enough
// to test quickly.
const EchoDelay = 500 * time.Millisecond

// checkEcho refuses what an echo room cannot have, and silences its
// tones.
func checkEcho(c *Config) error {
	if !c.Echo {
		return nil
	}
	if c.PIN != "" || c.ModeratorPIN != "" || c.Lobby || c.Record {
		return fmt.Errorf("%w: the echo test %q takes no PIN, lobby or recording", ErrBadRoom, c.Number)
	}
	c.Tones = TonesNever
	return nil
}

// Echo reports whether the room is the echo test.
func (r *Room) Echo() bool { return r.cfg.Echo }

// echoCandidates is what a viewer of the echo test may see: itself, when
// it publishes.
func echoCandidates(v *Participant, ranked []*Participant) []int {
	for _, p := range ranked {
		if p == v {
			return []int{p.ID}
		}
	}
	return nil
}
