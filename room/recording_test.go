package room

import (
	"errors"
	"sync"
	"testing"

	"github.com/confd/confd/forwarder"
)

// fakeRecorder marks rooms recorded as a real recorder does and remembers
// what it was asked.
type fakeRecorder struct {
	mu       sync.Mutex
	calls    []string
	requests []bool
}

func (f *fakeRecorder) Start(r *Room) error {
	f.mu.Lock()
	f.calls = append(f.calls, "start")
	f.mu.Unlock()
	r.SetRecording(true)
	return nil
}

func (f *fakeRecorder) Stop(r *Room) error {
	f.mu.Lock()
	f.calls = append(f.calls, "stop")
	f.mu.Unlock()
	r.SetRecording(false)
	return nil
}

func (f *fakeRecorder) Request(_ *Room, start bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, start)
}

// TestRecordingCommand: a moderator's "recording start" and "stop" reach
// the recorder, every row shows the room is recorded, and what makes no
// sense (twice, a participant, no recorder) is refused.
func TestRecordingCommand(t *testing.T) {
	r, w := testRoom(t)
	mod, _ := joinAs(t, r, "mod", RoleModerator)
	pat, _ := joinAs(t, r, "pat", RoleParticipant)
	if _, err := r.Run(mod, Command{Name: "recording", Value: "start"}); !errors.Is(err, ErrNoRecorder) {
		t.Fatalf("without a recorder: %v", err)
	}
	rec := &fakeRecorder{}
	r.rooms.RecordWith(rec)
	if _, err := r.Run(pat, Command{Name: "recording", Value: "start"}); !errors.Is(err, ErrNotModerator) {
		t.Fatalf("a participant: %v", err)
	}
	if resp, err := r.Run(mod, Command{Name: "recording", Value: "start"}); err != nil || resp == "" {
		t.Fatalf("start: %q %v", resp, err)
	}
	if !r.Recording() || !w.rows[pat.ID].Recording || !w.rows[mod.ID].Recording {
		t.Fatalf("recording %v, rows %+v", r.Recording(), w.rows)
	}
	if _, err := r.Run(mod, Command{Name: "recording", Value: "start"}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("start twice: %v", err)
	}
	if _, err := r.Run(mod, Command{Name: "recording", Value: "stop"}); err != nil {
		t.Fatal(err)
	}
	if r.Recording() || w.rows[pat.ID].Recording {
		t.Fatal("still marked recorded after stop")
	}
	if _, err := r.Run(mod, Command{Name: "recording", Value: "pause"}); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("pause: %v", err)
	}
	if got := rec.calls; len(got) != 2 || got[0] != "start" || got[1] != "stop" {
		t.Fatalf("recorder calls %v", got)
	}
}

// TestRecordEveryMeeting: a room configured to record asks the recorder
// to start as its first member joins, and any recorded room asks it to
// stop as its last member leaves.
func TestRecordEveryMeeting(t *testing.T) {
	rs, err := New([]Config{{Number: "3500", Record: true}, {Number: "3600"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	rec := &fakeRecorder{}
	rs.RecordWith(rec)
	r, _ := rs.Lookup("3500")
	a, _ := joinAs(t, r, "a", RoleParticipant)
	b, _ := joinAs(t, r, "b", RoleParticipant)
	r.SetRecording(true)
	r.Leave(a)
	r.Leave(b)
	other, _ := rs.Lookup("3600")
	c, _ := joinAs(t, other, "c", RoleParticipant)
	other.Leave(c)
	if got := rec.requests; len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("requests %v, want [start stop]", got)
	}
}

// tapLog is a Tap that records what it is told.
type tapLog struct {
	activities
	published, unpublished []int
}

func (l *tapLog) Published(m MemberRef, _ *forwarder.Receiver) {
	l.published = append(l.published, m.ID)
}

func (l *tapLog) Unpublished(m MemberRef, _ *forwarder.Receiver) {
	l.unpublished = append(l.unpublished, m.ID)
}

// TestTapSeesCamerasAndActivity: the tap is told of the cameras published
// when it is set and after, of each one's end, and of every activity.
func TestTapSeesCamerasAndActivity(t *testing.T) {
	r, _ := testRoom(t)
	a, _ := joinAs(t, r, "a", RoleParticipant)
	r.Publish(a, forwarder.NewReceiver(forwarder.ReceiverConfig{}, nil))
	tap := &tapLog{}
	if members := r.SetTap(tap); len(members) != 1 || members[0].ID != a.ID {
		t.Fatalf("members %v", members)
	}
	b, _ := joinAs(t, r, "b", RoleParticipant)
	recv := forwarder.NewReceiver(forwarder.ReceiverConfig{}, nil)
	r.Publish(b, recv)
	r.Unpublish(b, recv)
	r.Leave(a)
	if len(tap.published) != 2 || tap.published[0] != a.ID || tap.published[1] != b.ID {
		t.Fatalf("published %v", tap.published)
	}
	if len(tap.unpublished) != 2 || tap.unpublished[0] != b.ID || tap.unpublished[1] != a.ID {
		t.Fatalf("unpublished %v", tap.unpublished)
	}
	var joinsLeaves []Activity
	for _, a := range tap.reset() {
		if a.Kind == MemberJoined || a.Kind == MemberLeft {
			joinsLeaves = append(joinsLeaves, a)
		}
	}
	expectKinds(t, "tap", joinsLeaves, MemberJoined, MemberLeft)
	r.SetTap(nil)
	joinAs(t, r, "c", RoleParticipant)
	if len(tap.reset()) != 0 {
		t.Fatal("a removed tap was told")
	}
}

// TestEndRecordingCarriesItsReason: a recorder that stops on its own says
// why in recording_finished.
func TestEndRecordingCarriesItsReason(t *testing.T) {
	r, sink := activityRoom(t)
	r.SetRecording(true)
	sink.reset()
	r.EndRecording("disk full")
	got := sink.reset()
	if len(got) != 1 || got[0].Kind != RecordingFinished || got[0].Reason != "disk full" || r.Recording() {
		t.Fatalf("reported %+v", got)
	}
}

// TestEchoRoom: the echo test shows each caller its own camera only, and
// nobody's row reaches the participant list.
func TestEchoRoom(t *testing.T) {
	rs, err := New([]Config{{Number: "9196", Name: "Echo test", Echo: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	w := &watcher{}
	rs.Observe(w)
	r, _ := rs.Lookup("9196")
	a, _ := joinAs(t, r, "a", RoleParticipant)
	b, _ := joinAs(t, r, "b", RoleParticipant)
	for _, p := range []*Participant{a, b} {
		r.SetSlots(p, []*forwarder.DownTrack{forwarder.NewDownTrack("v", "s"), forwarder.NewDownTrack("v2", "s")}, []string{"1", "2"})
		r.Publish(p, forwarder.NewReceiver(forwarder.ReceiverConfig{}, nil))
	}
	for _, p := range []*Participant{a, b} {
		if p.slots[0].filler != p || p.slots[1].filler != nil {
			t.Fatalf("member %d's slots show %v and %v", p.ID, p.slots[0].filler, p.slots[1].filler)
		}
	}
	if len(w.events) != 0 {
		t.Fatalf("the participant list was told %v", w.events)
	}
	r.Snapshot(func(rows []Row) {
		if len(rows) != 0 {
			t.Fatalf("snapshot %v", rows)
		}
	})
	if _, err := New([]Config{{Number: "9196", Echo: true, PIN: "1"}}, nil); !errors.Is(err, ErrBadRoom) {
		t.Fatalf("an echo test with a PIN: %v", err)
	}
}
