package room

import (
	"testing"

	"github.com/confd/confd/forwarder"
)

// recorder is a Member that keeps the last slots event.
type recorder struct{ slots []SlotView }

func (m *recorder) Notify(ev Event) {
	if e, ok := ev.(SlotsEvent); ok {
		m.slots = e.Slots
	}
}

func (m *recorder) Close(Reason) {}

// TestVideoFloorFollowsSpeech: before anyone speaks the most recent
// publisher holds the video floor; then the mixer's audio floor decides
// slot 0, and recent speakers come next.
func TestVideoFloorFollowsSpeech(t *testing.T) {
	rs, err := New([]Config{{Number: "3500"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rs.Lookup("3500")
	defer r.Close()
	join := func(name string, publish bool) (*Participant, *recorder) {
		rec := &recorder{}
		p, err := r.Join(rec, JoinInfo{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if publish {
			r.Publish(p, forwarder.NewReceiver(forwarder.ReceiverConfig{}, nil))
		}
		return p, rec
	}
	a, _ := join("a", true)
	b, _ := join("b", true)
	c, _ := join("c", true)
	viewer, seen := join("viewer", false)
	r.SetSlots(viewer, []*forwarder.DownTrack{forwarder.NewDownTrack("s0", "v"), forwarder.NewDownTrack("s1", "v")}, []string{"1", "2"})
	shows := func(want ...*Participant) {
		t.Helper()
		for i, p := range want {
			if got := seen.slots[i].MemberID; got != p.ID {
				t.Fatalf("slot %d shows member %d, want %s (%d)", i, got, p.Info.Name, p.ID)
			}
		}
		if !seen.slots[0].Floor {
			t.Fatal("slot 0 is not marked as the floor")
		}
	}
	shows(c, b) // most recent publishers, the newest on the floor

	ev := mixEvents{r}
	ev.Talking(a.ID, true, 90)
	ev.Floor(a.ID)
	shows(a, c) // the speaker takes slot 0; c stays visible, keeping its slot moved by the floor

	ev.Talking(b.ID, true, 95)
	shows(a, b) // b spoke more recently than c; a keeps the floor until the mixer moves it
	ev.Floor(b.ID)
	shows(b, a)
}
