package forwarder

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/confd/confd/forwarder/forwardertest"
)

// TestPauser: layers start active; one nobody wants is paused after
// PauseAfter, never the smallest; a wanted layer resumes at once and
// counts as resuming for the grace period.
func TestPauser(t *testing.T) {
	var p pauser
	sec := int64(time.Second)
	steps := []struct {
		at            int64
		wanted        uint32
		want          uint32
		changed       bool
		paused, resum []int
	}{
		{0, 0b001, 0b111, true, nil, nil},
		{2 * sec, 0b001, 0b111, false, nil, nil},
		{3 * sec, 0b001, 0b001, true, []int{1, 2}, nil},   // h and f unwanted for PauseAfter
		{4 * sec, 0b000, 0b001, false, []int{1, 2}, nil},  // q stays, wanted or not
		{5 * sec, 0b100, 0b101, true, []int{1}, []int{2}}, // f wanted: back at once
		{9 * sec, 0b101, 0b101, false, []int{1}, []int{2}},
		{10 * sec, 0b101, 0b101, false, []int{1}, nil}, // the grace is over
		{11 * sec, 0b001, 0b101, false, []int{1}, nil}, // f unwanted again: not yet
		{14 * sec, 0b001, 0b001, true, []int{1, 2}, nil},
	}
	for i, s := range steps {
		s.at += sec // clocks never read 0
		got, changed := p.update(s.at, 0b111, s.wanted)
		if got != s.want || changed != s.changed {
			t.Fatalf("step %d: active %03b changed %v, want %03b %v", i, got, changed, s.want, s.changed)
		}
		for l := range 3 {
			if p.paused(l) != slices.Contains(s.paused, l) || p.resuming(l, s.at) != slices.Contains(s.resum, l) {
				t.Fatalf("step %d layer %d: paused %v resuming %v", i, l, p.paused(l), p.resuming(l, s.at))
			}
		}
	}
}

// TestSimulcastPausesUnwatchedLayers: with one small slot on a simulcast
// publisher, the publisher is told after PauseAfter to send only q; when
// the slot grows, f resumes at once (h stays off) and the slot switches
// to it at its first key frame; h and f are never told twice.
func TestSimulcastPausesUnwatchedLayers(t *testing.T) {
	n := newTestNet(t)
	sim := newSim(n, nil)
	var events []string
	sim.r.OnActiveLayers(func(rids []string) {
		events = append(events, fmt.Sprint(rids))
		for i, rid := range forwardertest.SimulcastRIDs {
			on := slices.Contains(rids, rid)
			if on && sim.off[i] {
				sim.src.Layers[i].ForceKeyframe() // an encoder restarts on a key frame
			}
			sim.off[i] = !on
		}
	})
	for i, rid := range forwardertest.SimulcastRIDs {
		sim.r.layer(i).rid = rid
	}
	sim.demand = true
	dt, rec := slotOn(t, sim.r, 3, 320, 180)
	frames := int(PauseAfter/time.Duration(frameInterval)) + 5
	n.run(frames, sim)
	if want := []string{"[q]"}; !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	infos := sim.r.Layers()
	if !infos[2].Paused || !infos[2].Available || !infos[1].Paused {
		t.Fatalf("f after pausing: %+v", infos[2])
	}
	dt.SetRenderSize(1280, 720)
	n.run(10, sim)
	if want := []string{"[q]", "[q f]"}; !slices.Equal(events, want) {
		t.Fatalf("events %v, want %v", events, want)
	}
	n.run(frames, sim)
	if got := layers(n.checkStream(t, "slot", rec.sent(), 3)); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("layers %v, want [0 2]", got)
	}
	// Once the slot is on f alone, q stays on (the smallest always does)
	// and h stays off: nothing more to tell.
	if want := []string{"[q]", "[q f]"}; !slices.Equal(events, want) {
		t.Errorf("events %v, want %v", events, want)
	}
}

// sinkNop is a Sink that is not a slot, as a recorder's is.
type sinkNop struct{}

func (*sinkNop) WriteRTP(*Packet, *Scratch) {}

// TestWantKeepsALayerSent: a sink that is not a slot and wants the top
// layer keeps it from being paused while one small slot watches; once it
// no longer wants it, the layer is paused as before.
func TestWantKeepsALayerSent(t *testing.T) {
	n := newTestNet(t)
	sim := newSim(n, nil)
	var events []string
	sim.r.OnActiveLayers(func(rids []string) { events = append(events, fmt.Sprint(rids)) })
	for i, rid := range forwardertest.SimulcastRIDs {
		sim.r.layer(i).rid = rid
	}
	sim.demand = true
	slotOn(t, sim.r, 3, 320, 180)
	rec := &sinkNop{}
	sim.r.AddSink(rec)
	sim.r.Want(rec, 1<<2)
	frames := int(PauseAfter/time.Duration(frameInterval)) + 5
	n.run(frames, sim)
	if want := []string{"[q f]"}; !slices.Equal(events, want) {
		t.Fatalf("with the sink wanting f: events %v, want %v", events, want)
	}
	sim.r.Want(rec, 0)
	n.run(frames, sim)
	if want := []string{"[q f]", "[q]"}; !slices.Equal(events, want) {
		t.Fatalf("after the sink let go: events %v, want %v", events, want)
	}
}
