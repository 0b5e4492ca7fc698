package forwarder

import (
	"testing"

	"github.com/confd/confd/forwarder/vp8"
)

// selIn is one packet offered to a Selector.
type selIn struct {
	layer  int
	tid    uint8
	sync   bool // layer sync (Y)
	start  bool // first packet of a frame
	key    bool // first packet of a key frame
	noTID  bool // the descriptor has no TID field
	setTo  *Layer
	want   Decision
	wantKF bool
}

func frame(layer int, tid uint8, sync bool, want Decision) selIn {
	return selIn{layer: layer, tid: tid, sync: sync, start: true, want: want}
}

func key(layer int, want Decision) selIn {
	return selIn{layer: layer, sync: true, start: true, key: true, want: want}
}

func cont(layer int, tid uint8, want Decision) selIn {
	return selIn{layer: layer, tid: tid, want: want}
}

func target(l Layer) selIn { return selIn{setTo: &l} }

func (in selIn) kf() selIn { in.wantKF = true; return in }

func runSelector(t *testing.T, s *Selector, steps []selIn) {
	t.Helper()
	for i, in := range steps {
		if in.setTo != nil {
			s.SetTarget(*in.setTo)
			continue
		}
		d := vp8.Descriptor{
			Extended: true, Start: in.start, HasTID: !in.noTID, TID: in.tid, LayerSync: in.sync, Keyframe: in.key,
		}
		if in.noTID {
			d.TID, d.LayerSync = 0, false
		}
		got, kf := s.Select(in.layer, &d, in.key)
		if got != in.want || kf != in.wantKF {
			t.Fatalf("step %d (layer %d tid %d start %v key %v): %v, request %v; want %v, request %v (current %+v target %+v)",
				i, in.layer, in.tid, in.start, in.key, got, kf, in.want, in.wantKF, s.Current(), s.Target())
		}
	}
}

// TestSelectorSpatialSwitch: a slot changes spatial layer only at a key
// frame of the layer it moves to, keeps forwarding the old layer until
// then, and asks for that key frame on every packet of the target.
func TestSelectorSpatialSwitch(t *testing.T) {
	s := NewSelector()
	runSelector(t, &s, []selIn{
		cont(0, 0, Drop), // no target yet: nothing
		target(Layer{Spatial: 1, Temporal: 2}),
		frame(1, 0, true, Drop).kf(), // waits for layer 1's key frame
		frame(2, 0, true, Drop),      // other layers are ignored
		key(1, Switch),
		cont(1, 0, Forward),
		frame(0, 0, true, Drop),
		frame(1, 2, true, Forward),
		target(Layer{Spatial: 2, Temporal: 2}),
		frame(2, 0, true, Drop).kf(),
		frame(1, 1, true, Forward), // the old layer goes on meanwhile
		key(2, Switch),
		frame(1, 0, true, Drop), // and stops at the switch
		frame(2, 2, true, Forward),
		target(Layer{Spatial: 0, Temporal: 2}),
		frame(2, 0, true, Forward),
		frame(0, 2, true, Drop).kf(),
		key(0, Switch),
		frame(2, 0, true, Drop),
	})
}

// TestSelectorStartsOnSmallerLayer: before anything is shown, a key frame
// of a layer below the target is taken at once; the slot moves up at the
// target's key frame. Larger layers are never taken early.
func TestSelectorStartsOnSmallerLayer(t *testing.T) {
	s := NewSelector()
	s.SetTarget(Layer{Spatial: 1, Temporal: 2})
	if got := s.Wanted(); got != 0b011 {
		t.Fatalf("Wanted before the first key frame = %b, want 011", got)
	}
	runSelector(t, &s, []selIn{
		key(2, Drop),
		key(0, Switch),
		frame(0, 0, true, Forward),
		frame(1, 0, true, Drop).kf(),
		key(1, Switch),
		frame(0, 0, true, Drop),
	})
	if got := s.Wanted(); got != 0b010 {
		t.Errorf("Wanted after the switch = %b, want 010", got)
	}
}

// TestSelectorTemporal: frames above the target TID are left out; going
// down happens at the next frame, going up only at a layer sync frame of a
// layer the target includes.
func TestSelectorTemporal(t *testing.T) {
	s := NewSelector()
	runSelector(t, &s, []selIn{
		target(Layer{Spatial: 0, Temporal: 0}),
		key(0, Switch),
		cont(0, 0, Forward),
		frame(0, 2, true, DropFrame),
		cont(0, 2, DropFrame),
		frame(0, 1, true, DropFrame),
		frame(0, 2, false, DropFrame),
		target(Layer{Spatial: 0, Temporal: 2}),
		frame(0, 2, false, DropFrame), // not a sync frame: still out
		frame(0, 0, true, Forward),
		frame(0, 2, true, Forward), // sync: TID 2 (and 1) from here
		frame(0, 1, true, Forward),
		frame(0, 2, false, Forward),
		target(Layer{Spatial: 0, Temporal: 1}),
		cont(0, 2, Forward), // the frame under way is finished
		frame(0, 2, true, DropFrame),
		frame(0, 1, true, Forward),
		cont(0, 1, Forward),
	})
}

// TestSelectorNoTIDs: a stream without temporal layers is forwarded whole
// whatever the temporal target.
func TestSelectorNoTIDs(t *testing.T) {
	s := NewSelector()
	runSelector(t, &s, []selIn{
		target(Layer{Spatial: 0, Temporal: 0}),
		{layer: 0, start: true, key: true, noTID: true, want: Switch},
		{layer: 0, start: true, noTID: true, want: Forward},
		{layer: 0, noTID: true, want: Forward},
	})
}

// TestSelectorPause: a paused slot stops at the next frame of its layer
// and, resumed, waits for a key frame again.
func TestSelectorPause(t *testing.T) {
	s := NewSelector()
	runSelector(t, &s, []selIn{
		target(Layer{Spatial: 1, Temporal: 2}),
		key(1, Switch),
		target(Paused),
		cont(1, 0, Forward), // the frame under way
		frame(1, 0, true, Drop),
		frame(1, 0, true, Drop),
		target(Layer{Spatial: 1, Temporal: 2}),
		frame(1, 0, true, Drop).kf(),
		key(1, Switch),
	})
	if s.Wanted() != 0b10 {
		t.Errorf("Wanted = %b", s.Wanted())
	}
}

// TestSelectorRestart: Restart (new source, new transport) waits for a key
// frame even of the layer already forwarded.
func TestSelectorRestart(t *testing.T) {
	s := NewSelector()
	runSelector(t, &s, []selIn{
		target(Layer{Spatial: 1, Temporal: 2}),
		key(1, Switch),
		frame(1, 0, true, Forward),
	})
	s.Restart()
	if !s.Waiting() {
		t.Fatal("not waiting after Restart")
	}
	runSelector(t, &s, []selIn{
		frame(1, 0, true, Drop).kf(),
		key(1, Switch),
	})
}
