package forwarder

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// threeLayers is a measured 720p simulcast publisher with three temporal
// layers: q 150, h 500, f 1500 kbit/s at full frame rate.
func threeLayers() []LayerInfo {
	mk := func(i, w, h, full int) LayerInfo {
		return LayerInfo{
			Index: i, Width: w, Height: h, Active: true, Available: true, TIDs: 3, Packets: 100,
			Bitrate: [MaxTemporalLayers]int{full / 2, full * 7 / 10, full, full},
			Cost:    [MaxTemporalLayers]int{full / 2, full * 7 / 10, full, full},
		}
	}
	return []LayerInfo{mk(0, 320, 180, 150_000), mk(1, 640, 360, 500_000), mk(2, 1280, 720, 1_500_000)}
}

// TestSizeLayer: a slot takes the smallest layer that covers its rendered
// size (allowing an eighth of upscaling), the largest for an unknown or
// larger size.
func TestSizeLayer(t *testing.T) {
	layers := threeLayers()
	for _, c := range []struct{ w, h, want int }{
		{0, 0, 2}, {320, 180, 0}, {160, 90, 0}, {360, 202, 0}, {400, 225, 1}, {640, 360, 1},
		{640, 480, 2}, {700, 394, 1}, {740, 416, 2}, {1280, 720, 2}, {1920, 1080, 2},
	} {
		if got := sizeLayer(layers, c.w, c.h); got != c.want {
			t.Errorf("sizeLayer(%dx%d) = %d, want %d", c.w, c.h, got, c.want)
		}
	}
	// Sizes not known yet are derived from a known layer, else from a
	// 720p top layer, halving per layer down.
	unknown := threeLayers()
	unknown[0].Width, unknown[0].Height, unknown[2].Width, unknown[2].Height = 0, 0, 0, 0
	for _, c := range []struct{ w, h, want int }{{320, 180, 0}, {640, 360, 1}, {1000, 600, 2}} {
		if got := sizeLayer(unknown, c.w, c.h); got != c.want {
			t.Errorf("only h measured: sizeLayer(%dx%d) = %d, want %d", c.w, c.h, got, c.want)
		}
	}
	for i := range unknown {
		unknown[i].Width, unknown[i].Height = 0, 0
	}
	if got := sizeLayer(unknown, 320, 180); got != 0 {
		t.Errorf("nothing measured: sizeLayer(320x180) = %d, want 0", got)
	}
	if got := sizeLayer(unknown[:1], 1280, 720); got != 0 {
		t.Errorf("single layer: %d, want 0", got)
	}
}

// TestChooseLayer: without an allocator a slot takes the layer its size
// asks for, within the limit, among the layers available; with none
// available it still targets one, so it resumes when the publisher does.
func TestChooseLayer(t *testing.T) {
	full := MaxTemporalLayers - 1
	layers := threeLayers()
	cases := []struct {
		name  string
		w, h  int
		limit Layer
		edit  func([]LayerInfo)
		want  Layer
	}{
		{"small slot", 320, 180, TopLayer, nil, Layer{0, full}},
		{"large slot", 1280, 720, TopLayer, nil, Layer{2, full}},
		{"unknown size", 0, 0, TopLayer, nil, Layer{2, full}},
		{"limited", 1280, 720, Layer{1, 1}, nil, Layer{1, 1}},
		{"limit above size", 320, 180, Layer{1, 0}, nil, Layer{0, full}},
		{"paused", 1280, 720, Paused, nil, Paused},
		{"f unavailable", 1280, 720, TopLayer, func(l []LayerInfo) { l[2].Available = false }, Layer{1, full}},
		{"only f", 320, 180, TopLayer, func(l []LayerInfo) { l[0].Available, l[1].Available = false, false }, Layer{2, full}},
		{"none available", 640, 360, TopLayer, func(l []LayerInfo) {
			for i := range l {
				l[i].Available = false
			}
		}, Layer{1, full}},
	}
	for _, c := range cases {
		ls := slices.Clone(layers)
		if c.edit != nil {
			c.edit(ls)
		}
		if got := chooseLayer(ls, c.w, c.h, c.limit); got != c.want {
			t.Errorf("%s: chooseLayer = %+v, want %+v", c.name, got, c.want)
		}
	}
}

func rungsString(rs []rung) string {
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf("%d.%d:%d ", r.layer.Spatial, r.layer.Temporal, r.bitrate/1000)
	}
	return s
}

// TestLadder: a slot's choices go up temporal layer by temporal layer
// within a spatial layer, up to the layer its size needs; unavailable
// layers are left out; unmeasured ones get a nominal bitrate.
func TestLadder(t *testing.T) {
	layers := threeLayers()
	if got, want := rungsString(ladder(layers, 1280, 720)), "0.0:75 0.1:105 0.2:150 1.0:250 1.1:350 1.2:500 2.0:750 2.1:1050 2.3:1500 "; got != want {
		t.Errorf("large slot: %s, want %s", got, want)
	}
	if got, want := rungsString(ladder(layers, 320, 180)), "0.0:75 0.1:105 0.3:150 "; got != want {
		t.Errorf("small slot: %s, want %s", got, want)
	}
	layers[1].Available = false
	if got, want := rungsString(ladder(layers, 640, 360)), "0.0:75 0.1:105 0.3:150 "; got != want {
		t.Errorf("h unavailable: %s, want %s", got, want)
	}
	paused := threeLayers()
	paused[2].Bitrate, paused[2].Cost = [MaxTemporalLayers]int{}, [MaxTemporalLayers]int{}
	paused[2].TIDs = 1
	if got, want := rungsString(ladder(paused, 1280, 720)), "0.0:75 0.1:105 0.2:150 1.0:250 1.1:350 1.2:500 2.3:1935 "; got != want {
		t.Errorf("f unmeasured: %s, want %s", got, want)
	}
	paused[2].LastCost = [MaxTemporalLayers]int{1_400_000}
	if got := ladder(paused, 1280, 720); got[len(got)-1].bitrate != 1_400_000 {
		t.Errorf("f paused after being measured costs %d, want its last bitrate", got[len(got)-1].bitrate)
	}
}

// TestAllocate: the floor gets the best the budget allows before the
// thumbnails get more than their minimum; when short, temporal layers go
// before spatial ones; a thumbnail is paused only when even its minimum
// does not fit, the floor never.
func TestAllocate(t *testing.T) {
	floor := demandOf{rungs: ladder(threeLayers(), 1280, 720), floor: true}
	thumb := demandOf{rungs: ladder(threeLayers(), 320, 180)}
	slots := []demandOf{floor, thumb, thumb}
	// Floor rungs (kbit/s): 75 105 150 | 250 350 500 | 750 1050 1500;
	// thumbnails 75 105 150.
	cases := []struct {
		budget int
		want   []string
	}{
		{10_000_000, []string{"2.3", "0.3", "0.3"}},
		{1_800_000, []string{"2.3", "0.3", "0.3"}},
		{1_700_000, []string{"2.3", "0.1", "0.0"}}, // the floor first: thumbnails get the rest
		{1_350_000, []string{"2.1", "0.3", "0.3"}}, // short: the floor drops a temporal layer
		{1_200_000, []string{"2.1", "0.0", "0.0"}},
		{1_000_000, []string{"2.0", "0.3", "0.0"}}, // and another one before a spatial layer
		{700_000, []string{"1.2", "0.1", "0.0"}},
		{400_000, []string{"1.0", "0.0", "0.0"}},
		{200_000, []string{"0.1", "0.0", "off"}}, // the last thumbnail goes first
		{50_000, []string{"0.0", "off", "off"}},  // the floor stays, at its minimum
		{0, []string{"0.0", "off", "off"}},
		{-5, []string{"0.0", "off", "off"}},
	}
	for _, c := range cases {
		got := allocate(c.budget, slots)
		var names []string
		for i, r := range got {
			if r < 0 {
				names = append(names, "off")
				continue
			}
			l := slots[i].rungs[r].layer
			names = append(names, fmt.Sprintf("%d.%d", l.Spatial, l.Temporal))
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("budget %d: %v, want %v", c.budget, names, c.want)
		}
	}
	if got := allocate(1000, []demandOf{{}, thumb}); !slices.Equal(got, []int{-1, -1}) {
		t.Errorf("an empty slot first: %v", got)
	}
}

// TestAllocatorSteps: a falling estimate steps the slots down at once; a
// rising one steps them up only after UpHold and with Headroom to spare.
func TestAllocatorSteps(t *testing.T) {
	a := NewAllocator(AllocatorConfig{Reserve: 50_000})
	floor := demandOf{rungs: ladder(threeLayers(), 1280, 720)}
	slots := []demandOf{floor}
	top := len(floor.rungs) - 1
	cur := []int{-1}
	sec := int64(time.Second)
	steps := []struct {
		at       int64
		estimate int
		want     int
	}{
		{0, 3_000_000, top},        // a new slot takes what fits
		{1 * sec, 3_000_000, top},  //
		{2 * sec, 1_000_000, 6},    // down at once: f at its base frame rate
		{3 * sec, 3_000_000, 6},    // no way up within UpHold
		{5 * sec, 3_000_000, 6},    //
		{6 * sec, 3_000_000, top},  // UpHold has passed
		{7 * sec, 1_500_000, 7},    // f at full rate no longer fits: f without TID 2
		{8 * sec, 1_600_000, 7},    //
		{11 * sec, 1_700_000, 7},   // 1.65 M / 1.2 < 1.5 M: not enough headroom
		{12 * sec, 1_900_000, top}, //
		{13 * sec, 0, top},         // unknown: no limit
	}
	for i, s := range steps {
		cur = a.decide(s.at, s.estimate, slots, cur)
		if cur[0] != s.want {
			t.Fatalf("step %d (%v, %d bit/s): rung %d (%v), want %d (%v)", i, time.Duration(s.at), s.estimate,
				cur[0], floor.rungs[cur[0]].layer, s.want, floor.rungs[s.want].layer)
		}
	}
}

// TestAllocatorFloorBelowBudget: with an estimate that does not pay even
// for the floor slot's cheapest rung, the slot stays on it, and staying
// there is no new step down: UpHold runs out and a probe can start.
func TestAllocatorFloorBelowBudget(t *testing.T) {
	a := NewAllocator(AllocatorConfig{Reserve: 64_000})
	floor := demandOf{rungs: ladder(threeLayers(), 1280, 720), floor: true}
	sec := int64(time.Second)
	cur := a.decide(0, 1_000_000, []demandOf{floor}, []int{8})
	if cur[0] >= 8 || a.lastDown != 0 {
		t.Fatalf("rung %d, last down %d: want a step down at 0", cur[0], a.lastDown)
	}
	for i := int64(1); i <= 10; i++ {
		cur = a.decide(i*sec/2, 80_000, []demandOf{floor}, cur)
	}
	if cur[0] != 0 || a.lastDown != sec/2 {
		t.Fatalf("rung %d, last down %v: want the cheapest rung, reached at 0.5 s", cur[0], time.Duration(a.lastDown))
	}
}
