package room

import (
	"errors"
	"fmt"

	"github.com/confd/confd/forwarder"
)

// ErrNoRecorder means recording was asked for on a server that has no
// recorder (no recording directory configured).
var ErrNoRecorder = errors.New("recording is not available on this server")

// ErrCannotRecord is what a recorder's refusal to start wraps: the room
// cannot be recorded now (it is the echo test, too many recordings run),
// and nothing changed.
var ErrCannotRecord = errors.New("the room cannot be recorded now")

// Recorder records rooms (package recorder). Start and Stop are called
// without any room lock held and may wait for the disk; Request is called
// with the room's lock held and must not block: it asks for a Start (start
// true) or a Stop to happen soon, on the recorder's own goroutine.
//
// The room asks for a Start when the first member joins a room configured
// to be recorded (Config.Record), and for a Stop when the last member
// leaves a room being recorded: a recording is one meeting.
type Recorder interface {
	Start(r *Room) error
	Stop(r *Room) error
	Request(r *Room, start bool)
}

// RecordWith sets the recorder of every room, and of the dynamic rooms
// created after (once, before serving).
func (rs *Rooms) RecordWith(rec Recorder) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.recorder = rec
	for _, r := range rs.list {
		r.mu.Lock()
		r.recorder = rec
		r.mu.Unlock()
	}
}

// Tap is what a recorder sees of a room besides its audio (which it takes
// from the mixer): every activity, as the ActivitySink is told, and each
// camera and screen as it is published and unpublished. Its methods are
// called with the room's lock held and must not block.
type Tap interface {
	ActivitySink
	// Published: member's camera (or screen share) is recv, from now on.
	Published(member MemberRef, recv *forwarder.Receiver)
	// Unpublished: recv is no longer the member's camera.
	Unpublished(member MemberRef, recv *forwarder.Receiver)
}

// SetTap makes t the room's tap (nil removes it). Under the same lock it
// calls t.Published for every camera published now, and it returns the
// members in the room now, so that the tap misses nothing from here on.
func (r *Room) SetTap(t Tap) []MemberRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tap = t
	out := make([]MemberRef, 0, len(r.members))
	for _, p := range r.members {
		out = append(out, refOf(p))
		if t != nil && p.camera != nil {
			t.Published(refOf(p), p.camera)
		}
	}
	return out
}

// publishedLocked and unpublishedLocked tell the tap of a camera.
func (r *Room) publishedLocked(p *Participant) {
	if r.tap != nil && p.camera != nil {
		r.tap.Published(refOf(p), p.camera)
	}
}

func (r *Room) unpublishedLocked(p *Participant) {
	if r.tap != nil && p.camera != nil {
		r.tap.Unpublished(refOf(p), p.camera)
	}
}

// EndRecording marks the room as no longer recorded because of reason (a
// write error, a full disk, a limit), which recording_finished carries.
func (r *Room) EndRecording(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.recording {
		return
	}
	r.recording = false
	r.reportLocked(Activity{Kind: RecordingFinished, Reason: reason})
	r.changedLocked()
}

// autoRecordLocked asks the recorder to start on the first join of a room
// configured to be recorded, and to stop when a recorded room empties.
func (r *Room) autoRecordLocked(joined bool) {
	if r.recorder == nil {
		return
	}
	switch {
	case joined && len(r.members) == 1 && r.cfg.Record && !r.recording:
		r.recorder.Request(r, true)
	case !joined && len(r.members) == 0 && r.recording:
		r.recorder.Request(r, false)
	}
}

// cmdRecording is FreeSWITCH's conference "recording start|stop" command
// (verto-spec §9.7). FreeSWITCH takes a file name as the second argument;
// confd ignores it (a moderator never names a path on the server): the
// recorder decides where the files go.
func cmdRecording(r *Room, _ *Participant, c Command) (string, error) {
	r.mu.Lock()
	rec, on := r.recorder, r.recording
	r.mu.Unlock()
	if rec == nil {
		return "", ErrNoRecorder
	}
	switch c.Value {
	case "start":
		if on {
			return "", fmt.Errorf("%w: the room is being recorded already", ErrBadCommand)
		}
		if err := rec.Start(r); err != nil {
			return "", err
		}
		return "+OK Recording started\n", nil
	case "stop":
		if !on {
			return "", fmt.Errorf("%w: the room is not being recorded", ErrBadCommand)
		}
		if err := rec.Stop(r); err != nil {
			return "", err
		}
		return "+OK Stopped recording\n", nil
	case "check":
		if on {
			return "+OK the room is being recorded\n", nil
		}
		return "+OK the room is not being recorded\n", nil
	}
	return "", fmt.Errorf("%w: recording %q (start, stop or check)", ErrBadCommand, c.Value)
}
