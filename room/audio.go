package room

import (
	"fmt"

	"github.com/confd/confd/mixer"
)

// JoinAudio connects a member to the room's mixer: its input (if it sends
// audio) is mixed for the others, and its writer receives the mix without
// its own voice. The endpoint pushes received packets into the returned
// member. The first time a member is in the mix (and not in the lobby),
// the room plays its join tone.
func (r *Room) JoinAudio(p *Participant, opts mixer.MemberOptions) (*mixer.Member, error) {
	am, err := r.mix.Add(p.ID, opts) // builds codecs: not under the room lock
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.left {
		r.mix.Remove(am)
		return nil, ErrNotInRoom
	}
	if p.audio != nil {
		r.mix.Remove(p.audio)
	}
	p.audio = am
	am.SetMuted(p.muted)
	am.SetHold(p.held || p.waiting)
	am.SetDeaf(p.deaf)
	am.SetGain(p.gain)
	am.SetVolume(p.volume)
	r.enterLocked(p)
	return am, nil
}

// SetMuted stops or resumes mixing the member's voice, whatever its client
// sends, as a moderator's mute: the member cannot unmute itself.
func (r *Room) SetMuted(p *Participant, muted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.setMutedLocked(p, muted, true)
}

// Muted reports whether the member's voice is kept out of the mix.
func (p *Participant) Muted() bool {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.muted
}

// Talking reports whether the mixer hears the member talking.
func (p *Participant) Talking() bool {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.talking
}

// mixEvents receives the mixer's reports on the mixer goroutine.
type mixEvents struct{ r *Room }

// Talking records who talks; a member who starts talking becomes the most
// recent speaker, which orders who is shown in slots after the floor.
func (e mixEvents) Talking(id int, talking bool, score int) {
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.memberLocked(id)
	if p == nil {
		return
	}
	p.talking, p.energy = talking, score
	if talking {
		r.talkSeq++
		p.lastTalk = r.talkSeq
		r.reassignLocked()
	}
	r.changedLocked()
}

// Floor gives the audio floor to the loudest speaker; the video floor
// follows it.
func (e mixEvents) Floor(id int) {
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.memberLocked(id); p != nil && p != r.floor {
		r.floor = p
		r.reassignLocked()
		r.changedLocked()
	}
}

// LeaveAudio takes the member out of the mix (its call is detached); it
// stays in the room.
func (r *Room) LeaveAudio(p *Participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.audio != nil {
		r.mix.Remove(p.audio)
		p.audio = nil
	}
}

// Mute mutes or unmutes member id's voice in the mix (the room-side
// control moderators use).
func (r *Room) Mute(id int, muted bool) error {
	r.mu.Lock()
	p := r.memberLocked(id)
	r.mu.Unlock()
	if p == nil {
		return fmt.Errorf("%w: %d", ErrNoSuchMember, id)
	}
	r.SetMuted(p, muted)
	return nil
}

// SetDeaf makes the member hear silence, or the mix again.
func (r *Room) SetDeaf(p *Participant, deaf bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.deaf = deaf
	if p.audio != nil {
		p.audio.SetDeaf(deaf)
	}
	r.changedLocked()
}

// SetGain sets the member's input gain level, -4..+4 (volume_in).
func (r *Room) SetGain(p *Participant, level int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.gain = max(-4, min(4, level))
	if p.audio != nil {
		p.audio.SetGain(p.gain)
	}
}

// SetVolume sets the level the member hears, -4..+4 (volume_out).
func (r *Room) SetVolume(p *Participant, level int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.volume = max(-4, min(4, level))
	if p.audio != nil {
		p.audio.SetVolume(p.volume)
	}
}
