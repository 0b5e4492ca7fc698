package room

import (
	"errors"
	"testing"

	"github.com/confd/confd/forwarder"
)

// TestViewersFollowTheFloor: a viewer is not a member and its track shows
// the video floor: the most recent publisher, then the speaker holding
// the floor, then a broadcaster (stream) above everyone; the mixer counts
// it as a listener. Leave lets it go; a room that closes tells its
// viewers.
func TestViewersFollowTheFloor(t *testing.T) {
	rs, err := New([]Config{{Number: "3500"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rs.Lookup("3500")
	publish := func(name string, kind Kind) (*Participant, *forwarder.Receiver) {
		p, err := r.Join(&nobody{}, JoinInfo{Name: name, Kind: kind, Key: name})
		if err != nil {
			t.Fatal(err)
		}
		cam := forwarder.NewReceiver(forwarder.ReceiverConfig{}, nil)
		r.Publish(p, cam)
		return p, cam
	}
	a, camA := publish("a", KindBrowser)
	dt := forwarder.NewDownTrack("v", "v")
	closed := 0
	v, err := r.Watch(dt, discard{}, func() { closed++ })
	if err != nil {
		t.Fatal(err)
	}
	if dt.Source() != camA || len(r.Members()) != 1 || r.Viewers() != 1 || r.Mixer().Members() != 1 {
		t.Fatalf("a viewer of a: source %p (want %p), %d members, %d viewers, %d in the mixer",
			dt.Source(), camA, len(r.Members()), r.Viewers(), r.Mixer().Members())
	}
	b, camB := publish("b", KindBrowser)
	if dt.Source() != camB {
		t.Fatal("the viewer does not follow the newest publisher")
	}
	ev := mixEvents{r}
	ev.Talking(a.ID, true, 90)
	ev.Floor(a.ID)
	if dt.Source() != camA {
		t.Fatal("the viewer does not follow the speaker on the floor")
	}
	_, camS := publish("obs", KindStream)
	if dt.Source() != camS {
		t.Fatal("a broadcaster does not take the presentation")
	}
	if m := r.Metrics(); m.Viewers != 1 || m.Members[KindStream] != 1 {
		t.Errorf("metrics: %d viewers, %d streams", m.Viewers, m.Members[KindStream])
	}
	v.Leave()
	v.Leave()
	if dt.Source() != nil || r.Viewers() != 0 || r.Mixer().Members() != 0 {
		t.Fatalf("after Leave: source %v, %d viewers, %d in the mixer", dt.Source(), r.Viewers(), r.Mixer().Members())
	}
	_ = b

	if _, err := r.Watch(forwarder.NewDownTrack("w", "w"), nil, func() { closed++ }); err != nil {
		t.Fatal(err)
	}
	rs.Close()
	if closed != 1 || r.Viewers() != 0 {
		t.Errorf("closing the room told %d viewers, %d remain", closed, r.Viewers())
	}
	if _, err := r.Watch(nil, discard{}, nil); !errors.Is(err, ErrRoomClosed) {
		t.Errorf("watching a closed room: %v", err)
	}
}

type discard struct{}

func (discard) WriteFrame([]byte) error { return nil }
