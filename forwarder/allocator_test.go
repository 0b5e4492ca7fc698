package forwarder

import (
	"testing"
	"time"
)

// allocWorld runs an Allocator's allocations on a test clock, every
// Interval, for one floor slot showing a measured 720p simulcast source
// (threeLayers) whose measured costs the test scales before each
// allocation. Between allocations the slot sends what its layer costs and
// the padding it was asked for.
type allocWorld struct {
	t     *testing.T
	a     *Allocator
	dt    *DownTrack
	now   int64
	sent  int64   // bytes the slot has sent
	noise float64 // the measured costs' factor at the next allocation
	loss  float64 // what the feedback reports at the next allocation
	// overuse is the delay detector's verdict at the next allocation.
	overuse bool
	// downs and ups are the ticks at which the slot's layer went down and
	// up; probes those at which a probe started.
	downs, ups, probes []int64
	ticks              int
}

func newAllocWorld(t *testing.T, bwe int) *allocWorld {
	a := NewAllocator(AllocatorConfig{Reserve: 50_000})
	dt := NewDownTrack("v", "s")
	a.SetSlots([]*DownTrack{dt})
	a.SetEstimate(bwe)
	return &allocWorld{t: t, a: a, dt: dt, now: int64(10 * time.Second), noise: 1}
}

// step runs one allocation and lets an Interval pass; it returns the
// slot's layer.
func (w *allocWorld) step() Layer {
	layers := threeLayers()
	for i := range layers {
		for t := range layers[i].Cost {
			layers[i].Cost[t] = int(float64(layers[i].Cost[t]) * w.noise)
		}
	}
	d := demandOf{rungs: ladder(layers, 1280, 720)}
	// Allocations run on a ticker, each a little after its tick.
	w.ticks++
	late := int64(w.ticks*3%7) * int64(time.Millisecond)
	w.a.mu.Lock()
	prev, probing := w.a.cur[0], w.a.probe.slot != nil
	pads := w.a.stepLocked(w.now+late, Congestion{Loss: w.loss, Overuse: w.overuse}, w.sent, []slotInput{{d: d}}, []*DownTrack{w.dt})
	cur := w.a.cur[0]
	if !probing && w.a.probe.slot != nil {
		w.probes = append(w.probes, w.now)
	}
	w.a.mu.Unlock()
	for _, p := range pads {
		p.slot.SetPadding(p.bps)
	}
	switch {
	case prev.Spatial < 0 || cur == prev:
	case cur.Spatial < prev.Spatial || (cur.Spatial == prev.Spatial && cur.Temporal < prev.Temporal):
		w.downs = append(w.downs, w.now)
	default:
		w.ups = append(w.ups, w.now)
	}
	w.dt.mu.Lock()
	pad := w.dt.pad.rate
	w.dt.mu.Unlock()
	interval := w.a.cfg.Interval
	w.sent += int64(float64(rate(d, rungIndex(d.rungs, cur))+pad) / 8 * interval.Seconds())
	w.now += int64(interval)
	return cur
}

// costNoise is what a layer's measured cost does from one allocation to
// the next with nothing changing: a few percent either way.
var costNoise = []float64{1.00, 1.04, 0.98, 1.06, 1.02, 0.97, 1.05, 1.01, 0.99, 1.03}

// TestAllocatorCostNoise: a slot whose measured cost wobbles around the
// budget, the estimate steady, stays on its layer: a cost a few percent
// over is noise, and so is one far over at a single allocation. Real
// congestion (persistent loss) steps it down at the allocation that
// measures it; it steps back up UpHold later and after one probe, the
// cost still wobbling over the budget meanwhile, in the allocation where
// the probe ends (at the tick it is due, however late the allocation that
// started it ran).
func TestAllocatorCostNoise(t *testing.T) {
	w := newAllocWorld(t, 1_600_000) // budget 1.55 Mbit/s; f costs 1.5
	top := TopLayer
	top.Spatial = 2
	for i := range 30 {
		w.noise = costNoise[i%len(costNoise)]
		if i == 17 {
			w.noise = 1.2 // one look at 1.8 Mbit/s, beyond costMargin
		}
		if got := w.step(); got != top {
			t.Fatalf("allocation %d (cost ×%.2f): layer %+v, want f", i, w.noise, got)
		}
	}
	if len(w.downs) != 0 || len(w.probes) != 0 {
		t.Fatalf("steps down at %v, probes at %v: want none", w.downs, w.probes)
	}

	// Congestion: a quarter of the packets lost, at two allocations
	// lossPersist apart.
	w.noise, w.loss = 1, 0.25
	w.step()
	w.loss = 0.26
	down := w.now
	if got := w.step(); got.Spatial != 2 || got.Temporal >= 2 {
		t.Fatalf("after congestion measured: layer %+v, want f without its top temporal layer", got)
	}
	if len(w.downs) != 1 || w.downs[0] != down || w.a.lastDown-down >= int64(10*time.Millisecond) {
		t.Fatalf("steps down at %v (last %d), want one at %d", w.downs, w.a.lastDown, down)
	}
	w.loss = 0
	budget := w.a.effectiveLocked() - w.a.cfg.Reserve
	over := 0
	for i := 0; len(w.ups) == 0 && i < 40; i++ {
		w.noise = costNoise[i%len(costNoise)]
		if float64(rate(demandOf{rungs: ladder(threeLayers(), 1280, 720)}, 7))*w.noise > float64(budget) {
			over++
		}
		w.step()
	}
	if over == 0 {
		t.Fatalf("the cost never went over the budget of %d after the step down: the test shows nothing", budget)
	}
	want := down + int64(w.a.cfg.UpHold+w.a.cfg.ProbeTime)
	if len(w.downs) != 1 || len(w.probes) != 1 || len(w.ups) != 1 || w.ups[0] != want {
		t.Fatalf("after the step down at %v: downs %v, probes %v, ups %v; want one probe and up at %v",
			time.Duration(down), w.downs, w.probes, w.ups, time.Duration(want))
	}
	if got := w.step(); got != top {
		t.Errorf("stepped up to %+v, want f", got)
	}
}

// scaled is the floor slot of threeLayers with every cost times f.
func scaled(f float64) []demandOf {
	layers := threeLayers()
	for i := range layers {
		for t := range layers[i].Cost {
			layers[i].Cost[t] = int(float64(layers[i].Cost[t]) * f)
		}
	}
	return []demandOf{{rungs: ladder(layers, 1280, 720), floor: true}}
}

// TestAllocatorStepDownCauses: with the estimate steady, a cost over the
// budget by less than costMargin keeps the slots where they are, and one
// beyond it steps them down only when a second allocation, costPersist
// later, still sees it. An estimate that falls by more than
// estimateSlack steps them down at once, however little they are over;
// one that wobbles by less does not. A slot that starts makes the others
// take their fresh share at once.
func TestAllocatorStepDownCauses(t *testing.T) {
	ms := int64(time.Millisecond)
	top := 8
	type look struct {
		at       int64
		estimate int
		cost     float64
		want     int // rung after
	}
	run := func(name string, looks []look) {
		t.Helper()
		a := NewAllocator(AllocatorConfig{Reserve: 50_000})
		cur := []int{top}
		for i, l := range looks {
			slots := scaled(l.cost)
			cur = a.decide(l.at, l.estimate, slots, cur)
			if cur[0] != l.want {
				t.Fatalf("%s, look %d (%d bit/s, cost ×%.2f): rung %d, want %d", name, i, l.estimate, l.cost, cur[0], l.want)
			}
		}
	}
	// Budget 1.55 Mbit/s; f costs 1.5, f without TID 2 1.05.
	run("cost over by less than the margin", []look{
		{0, 1_600_000, 1, top},
		{500 * ms, 1_600_000, 1.08, top},
		{1000 * ms, 1_600_000, 1.13, top},
		{5000 * ms, 1_600_000, 1.13, top},
	})
	run("cost over beyond the margin", []look{
		{0, 1_600_000, 1, top},
		{500 * ms, 1_600_000, 1.15, top},  // first look
		{700 * ms, 1_600_000, 1.15, top},  // too soon for a new measurement
		{1000 * ms, 1_600_000, 1.02, top}, // gone
		{1500 * ms, 1_600_000, 1.15, top}, // again: a first look
		{2000 * ms, 1_600_000, 1.16, 7},   // and still
	})
	run("estimate falls", []look{
		{0, 1_600_000, 1, top},
		{500 * ms, 1_560_000, 1.03, top}, // -2.5 %: a wobble
		{1000 * ms, 1_530_000, 1.01, 7},  // -4.4 % since they fitted: congestion
	})
	run("estimate falls by 15 %", []look{
		{0, 1_600_000, 1, top},
		{500 * ms, 1_360_000, 1, 7},
	})
	run("estimate appears", []look{
		{0, 0, 1, top},
		{500 * ms, 1_500_000, 1, 7},
	})

	// A thumbnail starts: the floor takes its fresh share at once.
	a := NewAllocator(AllocatorConfig{Reserve: 50_000})
	thumb := demandOf{rungs: ladder(threeLayers(), 320, 180)}
	floor := scaled(1)[0]
	cur := a.decide(0, 1_600_000, []demandOf{floor, thumb}, []int{top, -1})
	if cur[0] >= top || cur[1] < 0 {
		t.Errorf("a thumbnail starting: rungs %v, want the floor down and the thumbnail on", cur)
	}
}
