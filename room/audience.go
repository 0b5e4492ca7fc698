package room

import (
	"slices"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/mixer"
)

// presents says whether members of kind k take the presentation slot, the
// head of everyone's video floor: screen shares and broadcasters.
func (k Kind) presents() bool { return k == KindScreen || k == KindStream }

// Viewer is one of a room's audience (a WHEP player): not a member (it has
// no row, no voice in the mix, and nobody sees it), it receives the room's
// program: the video floor on one track, as slot 0 shows it to a member
// who sees everyone, and the mix as a listener hears it. Viewers who are
// not speakers share the listeners' one encode, so a viewer costs
// forwarding only.
type Viewer struct {
	room   *Room
	track  *forwarder.DownTrack
	audio  *mixer.Member // nil when the viewer receives no audio
	filler *Participant  // whose camera the track shows now; guarded by the room's mu
	closed func()        // told when the room closes
}

// Watch adds a viewer: track (nil for none) follows the video floor, and
// writer (nil for none) gets the mix as a listener hears it. closed, when
// set, is called when the room closes, with the room's lock held: it must
// not block.
func (r *Room) Watch(track *forwarder.DownTrack, writer mixer.PacketWriter, closed func()) (*Viewer, error) {
	v := &Viewer{room: r, track: track, closed: closed}
	if writer != nil {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return nil, ErrRoomClosed
		}
		r.nextViewer--
		id := r.nextViewer // mixer IDs below 0: apart from the members'
		r.mu.Unlock()
		am, err := r.mix.Add(id, mixer.MemberOptions{Out: mixer.CodecOpus, Writer: writer})
		if err != nil {
			return nil, err
		}
		v.audio = am
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		if v.audio != nil {
			r.mix.Remove(v.audio)
		}
		return nil, ErrRoomClosed
	}
	r.viewers = append(r.viewers, v)
	r.showLocked(v, r.rankedLocked())
	return v, nil
}

// Leave removes the viewer; it is idempotent.
func (v *Viewer) Leave() {
	r := v.room
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, o := range r.viewers {
		if o == v {
			r.viewers = slices.Delete(r.viewers, i, i+1) // the tail is zeroed: no stale *Viewer kept
			break
		}
	}
	if v.audio != nil {
		r.mix.Remove(v.audio)
		v.audio = nil
	}
	if v.track != nil {
		v.track.SetSource(nil)
	}
	v.filler = nil
}

// Viewers is how many viewers the room has.
func (r *Room) Viewers() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.viewers)
}

// reassignAudienceLocked points every viewer's track at the video floor.
func (r *Room) reassignAudienceLocked(ranked []*Participant) {
	for _, v := range r.viewers {
		r.showLocked(v, ranked)
	}
}

// showLocked shows v the head of ranked (the video floor). DownTrack's
// SetSource asks the new source for a key frame and forwards nothing of it
// before one, so each switch starts on a key frame.
func (r *Room) showLocked(v *Viewer, ranked []*Participant) {
	var floor *Participant
	if len(ranked) > 0 {
		floor = ranked[0]
	}
	if v.track == nil || floor == v.filler {
		return
	}
	v.filler = floor
	if floor == nil {
		v.track.SetSource(nil)
		return
	}
	v.track.SetSource(floor.camera)
}

// closeAudienceLocked lets every viewer go when the room closes.
func (r *Room) closeAudienceLocked() {
	for _, v := range r.viewers {
		if v.closed != nil {
			v.closed()
		}
		if v.audio != nil {
			r.mix.Remove(v.audio)
			v.audio = nil
		}
		if v.track != nil {
			v.track.SetSource(nil)
		}
	}
	r.viewers = nil
}
