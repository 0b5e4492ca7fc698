package room

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

var (
	// ErrRoomLocked means a moderator locked the room against new members.
	ErrRoomLocked = errors.New("room is locked")
	// ErrMuteLocked means a moderator muted the member, who cannot unmute.
	ErrMuteLocked = errors.New("muted by a moderator")
	// ErrNotModerator means a participant sent a moderator command.
	ErrNotModerator = errors.New("permission denied: moderators only")
	// ErrBadCommand means an unknown command or a bad value.
	ErrBadCommand = errors.New("invalid command")
)

// Mover is implemented by endpoints that can move to another room without
// redialling (a moderator's transfer).
type Mover interface {
	Move(to *Room) error
}

// SelfMute is the member muting or unmuting itself (a client button,
// keypad *6). It cannot undo a moderator's mute.
func (r *Room) SelfMute(p *Participant, muted bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !muted && p.modMuted {
		return ErrMuteLocked
	}
	r.setMutedLocked(p, muted, false)
	return nil
}

func (r *Room) setMutedLocked(p *Participant, muted, byModerator bool) {
	if p.muted != muted {
		r.reportLocked(Activity{Kind: MemberMuted, Member: refOf(p), Muted: muted, ByModerator: byModerator})
	}
	p.muted = muted
	p.modMuted = muted && byModerator
	if p.audio != nil {
		p.audio.SetMuted(muted)
	}
	r.changedLocked()
}

// SelfVideoMute stops or resumes forwarding the member's own video.
func (r *Room) SelfVideoMute(p *Participant, muted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setVideoMutedLocked(p, muted)
}

func (r *Room) setVideoMutedLocked(p *Participant, muted bool) {
	p.videoMuted = muted
	r.reassignLocked()
	r.changedLocked()
}

// RaiseHand raises or lowers the member's hand.
func (r *Room) RaiseHand(p *Participant, up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setHandLocked(p, up)
	r.changedLocked()
}

func (r *Room) setHandLocked(p *Participant, up bool) {
	if p.hand != up && !p.left {
		r.reportLocked(Activity{Kind: HandRaised, Member: refOf(p), Raised: up})
	}
	p.hand = up
}

// HandRaised reports whether the member's hand is up.
func (p *Participant) HandRaised() bool {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.hand
}

// Role is the member's role.
func (p *Participant) Role() Role { return p.Info.Role }

// SetLocked locks the room against new members other than moderators, or
// opens it again.
func (r *Room) SetLocked(locked bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.locked = locked
}

// Locked reports whether the room is locked.
func (r *Room) Locked() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.locked
}

// MuteAll mutes every member who is not a moderator, except by, as a
// moderator's mute: they cannot unmute themselves.
func (r *Room) MuteAll(by *Participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.muteAllLocked(by)
}

func (r *Room) muteAllLocked(by *Participant) {
	for _, p := range r.members {
		if p != by && p.Info.Role != RoleModerator {
			if !p.muted {
				r.reportLocked(Activity{Kind: MemberMuted, Member: refOf(p), Muted: true, ByModerator: true})
			}
			p.muted, p.modMuted = true, true
			if p.audio != nil {
				p.audio.SetMuted(true)
			}
		}
	}
	r.changedLocked()
}

// Command is a moderator command as Verto's conf-control carries it.
type Command struct {
	Name   string
	Target int    // member ID, 0 when the command has none
	Value  string // command argument
}

// Run runs a moderator command sent by `by` and returns FreeSWITCH's
// response text. Every command checks the sender's role first and is
// written to the log as an audit line.
func (r *Room) Run(by *Participant, c Command) (string, error) {
	if by == nil || by.Info.Role != RoleModerator {
		r.log.Warn("moderator command refused", zap.String("command", c.Name), zap.Int("by", idOf(by)))
		return "", ErrNotModerator
	}
	return r.command(Actor{Member: by}, c)
}

// Operate runs a moderator command for an operator, who authenticated with
// the API key named key: the commands of Run, audited the same way.
func (r *Room) Operate(key string, c Command) (string, error) {
	return r.command(Actor{Key: key}, c)
}

// command runs c for a, then writes its audit line and reports it; a
// command that fails is logged, neither audited nor reported.
func (r *Room) command(a Actor, c Command) (string, error) {
	h, ok := commands[c.Name]
	if !ok {
		return "", fmt.Errorf("%w: %q", ErrBadCommand, c.Name)
	}
	r.mu.Lock()
	target := MemberRef{}
	if c.Target != 0 {
		target = r.targetRefLocked(c.Target) // before a kick or a move takes it away
	}
	r.mu.Unlock()
	resp, err := h(r, a.Member, c)
	if err != nil {
		r.log.Info("moderator action failed", zap.String("command", c.Name), zap.Int("target", c.Target), zap.Error(err))
		return "", err
	}
	r.mu.Lock()
	r.auditLocked(a, c.Name, target, c.Value)
	r.mu.Unlock()
	return resp, nil
}

func idOf(p *Participant) int {
	if p == nil {
		return 0
	}
	return p.ID
}

type commandFunc func(r *Room, by *Participant, c Command) (string, error)

// commands are FreeSWITCH's conf-control set (verto-spec §9.7) that confd
// implements (recording in recording.go), plus confd's own: lock, unlock,
// muteall, lowerhands.
var commands = map[string]commandFunc{
	"kick":       cmdKick,
	"mute":       cmdMute(func(bool) bool { return true }),
	"unmute":     cmdMute(func(bool) bool { return false }),
	"tmute":      cmdMute(func(m bool) bool { return !m }),
	"deaf":       cmdDeaf(true),
	"undeaf":     cmdDeaf(false),
	"vmute":      cmdVideo(func(bool) bool { return true }),
	"unvmute":    cmdVideo(func(bool) bool { return false }),
	"tvmute":     cmdVideo(func(m bool) bool { return !m }),
	"volume_in":  cmdLevel("IN"),
	"volume_out": cmdLevel("OUT"),
	"vid-floor":  cmdFloor,
	"vid-banner": cmdBanner,
	"vid-res-id": cmdReserve,
	"transfer":   cmdTransfer,
	"lock":       cmdLock(true),
	"unlock":     cmdLock(false),
	"muteall":    cmdMuteAll,
	"admit":      cmdAdmit,
	"lowerhands": cmdLowerHands,
	"recording":  cmdRecording,
}

// onTarget makes a command that acts on its target member under the
// room's lock.
func onTarget(f func(r *Room, p *Participant, c Command) (string, error)) commandFunc {
	return func(r *Room, _ *Participant, c Command) (string, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		p, err := r.targetLocked(c)
		if err != nil {
			return "", err
		}
		return f(r, p, c)
	}
}

// targetLocked finds the command's member.
func (r *Room) targetLocked(c Command) (*Participant, error) {
	p := r.memberLocked(c.Target)
	if p == nil {
		return nil, fmt.Errorf("%w: %d", ErrNoSuchMember, c.Target)
	}
	return p, nil
}

func cmdKick(r *Room, _ *Participant, c Command) (string, error) {
	if err := r.Kick(c.Target); err != nil {
		return "", err
	}
	return fmt.Sprintf("+OK kicked %d\n", c.Target), nil
}

func cmdMute(next func(bool) bool) commandFunc {
	return onTarget(func(r *Room, p *Participant, _ Command) (string, error) {
		muted := next(p.muted)
		r.setMutedLocked(p, muted, true)
		return fmt.Sprintf("+OK %s %d\n", map[bool]string{true: "mute", false: "unmute"}[muted], p.ID), nil
	})
}

func cmdDeaf(deaf bool) commandFunc {
	return onTarget(func(r *Room, p *Participant, _ Command) (string, error) {
		p.deaf = deaf
		if p.audio != nil {
			p.audio.SetDeaf(deaf)
		}
		r.changedLocked()
		return fmt.Sprintf("+OK %s %d\n", map[bool]string{true: "deaf", false: "undeaf"}[deaf], p.ID), nil
	})
}

func cmdVideo(next func(bool) bool) commandFunc {
	return onTarget(func(r *Room, p *Participant, _ Command) (string, error) {
		muted := next(p.videoMuted)
		r.setVideoMutedLocked(p, muted)
		return fmt.Sprintf("+OK %s %d\n", map[bool]string{true: "vmute", false: "unvmute"}[muted], p.ID), nil
	})
}

// cmdLevel sets volume_in (gain) or volume_out: "up", "down" or a number,
// clamped to -4..+4.
func cmdLevel(dir string) commandFunc {
	return onTarget(func(_ *Room, p *Participant, c Command) (string, error) {
		cur := &p.gain
		if dir == "OUT" {
			cur = &p.volume
		}
		level, err := nextLevel(*cur, c.Value)
		if err != nil {
			return "", err
		}
		*cur = level
		if p.audio != nil {
			p.audio.SetGain(p.gain)
			p.audio.SetVolume(p.volume)
		}
		return fmt.Sprintf("+OK Volume %s %d = %d\n", dir, p.ID, level), nil
	})
}

func nextLevel(cur int, v string) (int, error) {
	switch v {
	case "up":
		return min(cur+1, 4), nil
	case "down":
		return max(cur-1, -4), nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("%w: volume %q", ErrBadCommand, v)
	}
	return max(-4, min(4, n)), nil
}

// cmdFloor forces the video floor onto the member and locks it there; sent
// for the member that holds the locked floor, it unlocks it (the floor
// follows the speaker again).
var cmdFloor = onTarget(func(r *Room, p *Participant, _ Command) (string, error) {
	resp := fmt.Sprintf("+OK floor %d\n", p.ID)
	if r.forcedFloor == p {
		r.forcedFloor = nil
		resp = "+OK floor none\n"
	} else {
		r.forcedFloor = p
	}
	r.reassignLocked()
	r.changedLocked()
	return resp, nil
})

// cmdBanner sets the caption of the member's tile: URL-escaped text (the
// client escapes it), "reset" or "clear" to remove it.
var cmdBanner = onTarget(func(r *Room, p *Participant, c Command) (string, error) {
	text := c.Value
	if text == "reset" || text == "clear" {
		text = ""
	} else if u, err := url.PathUnescape(text); err == nil {
		text = u
	}
	const maxBanner = 200
	if len(text) > maxBanner {
		return "", fmt.Errorf("%w: banner longer than %d bytes", ErrBadCommand, maxBanner)
	}
	p.banner = text
	r.changedLocked()
	r.notifyAllSlotsLocked()
	return "+OK\n", nil
})

// cmdReserve reserves a slot for the member in everyone's view: a reserved
// member is shown right after the floor. The same id again, or "clear",
// releases it.
var cmdReserve = onTarget(func(r *Room, p *Participant, c Command) (string, error) {
	resp := "+OK reservation_id " + c.Value + "\n"
	if c.Value == "" || c.Value == "clear" || c.Value == p.reservation {
		p.reservation, resp = "", "+OK reservation_id cleared\n"
	} else {
		p.reservation = c.Value
	}
	r.reassignLocked()
	r.changedLocked()
	return resp, nil
})

func cmdLock(locked bool) commandFunc {
	return func(r *Room, _ *Participant, _ Command) (string, error) {
		r.SetLocked(locked)
		return fmt.Sprintf("+OK %s\n", map[bool]string{true: "locked", false: "unlocked"}[locked]), nil
	}
}

func cmdMuteAll(r *Room, by *Participant, _ Command) (string, error) {
	r.MuteAll(by)
	return "+OK muted all non-moderators\n", nil
}

func cmdLowerHands(r *Room, _ *Participant, _ Command) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.members {
		r.setHandLocked(p, false)
	}
	r.changedLocked()
	return "+OK hands lowered\n", nil
}

// cmdTransfer moves a member to another room (value: its number or name)
// without a new call from the client; the member's endpoint does the move.
func cmdTransfer(r *Room, _ *Participant, c Command) (string, error) {
	to, err := r.rooms.Lookup(c.Value)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	p, err := r.targetLocked(c)
	r.mu.Unlock()
	if err != nil {
		return "", err
	}
	mv, ok := p.member.(Mover)
	if !ok || to == r {
		return "", fmt.Errorf("%w: member %d cannot be moved to %q", ErrBadCommand, p.ID, c.Value)
	}
	if err := mv.Move(to); err != nil {
		return "", err
	}
	return fmt.Sprintf("+OK Call transferred to %s\n", to.Number()), nil
}

// cmdAdmit lets a member wait in the lobby no longer; the room hears its
// join tone now if it is in the mix already.
var cmdAdmit = onTarget(func(r *Room, p *Participant, _ Command) (string, error) {
	p.waiting = false
	if p.audio != nil {
		p.audio.SetHold(p.held)
	}
	r.enterLocked(p)
	r.reassignLocked()
	r.changedLocked()
	return fmt.Sprintf("+OK admitted %d\n", p.ID), nil
})
