package forwarder

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/confd/confd/forwarder/forwardertest"
)

// measureTop reads layer i of r's cost and one-second bitrate at every
// TID, as an Allocator would every Interval.
func measureTop(r *Receiver, i int) (cost, bitrate int, info LayerInfo) {
	info = r.Layers()[i]
	return info.Cost[MaxTemporalLayers-1], info.Bitrate[MaxTemporalLayers-1], info
}

// TestLayerCost: a layer's cost, what the Allocator budgets for it, holds
// steady while its one-second bitrate swings with the key frames entering
// and leaving its window and with the arrival jitter of a network. It is
// given only once the layer has sent for half a window; a layer that
// pauses keeps its last cost (LastCost) without its silence averaged
// in, and once it resumes its cost is measured afresh.
func TestLayerCost(t *testing.T) {
	n := newTestNet(t)
	sim := n.simulcast(forwardertest.SimulcastConfig{SSRCs: simSSRCs, TemporalLayers: true, KeyframeInterval: 40}, 0)
	rng := rand.New(rand.NewPCG(7, 11))
	sim.jitter = func() int64 { return rng.Int64N(frameInterval * 2 / 3) }
	const every = 15 // frames between two measurements: 500 ms

	n.run(every, sim)
	if cost, bitrate, _ := measureTop(sim.r, 2); cost != 0 {
		t.Fatalf("cost %d (bitrate %d) at the first measurement, want none yet", cost, bitrate)
	}
	var costs, rates []int
	for range 40 { // 20 s
		n.run(every, sim)
		cost, bitrate, _ := measureTop(sim.r, 2)
		costs, rates = append(costs, cost), append(rates, bitrate)
	}
	minC, maxC := spread(costs[8:]) // from a full costWindow on
	minR, maxR := spread(rates)
	t.Logf("cost %d..%d, one-second bitrate %d..%d", minC, maxC, minR, maxR)
	if float64(maxR) < 1.1*float64(minR) {
		t.Fatalf("the one-second bitrate swings only %d..%d: the test shows nothing", minR, maxR)
	}
	if float64(maxC) > 1.03*float64(minC) {
		t.Errorf("cost swings %d..%d, want within 3 %%", minC, maxC)
	}
	steady := costs[len(costs)-1]

	// Paused: the cost is not dragged down by the silence, and once the
	// layer counts as stopped it is dropped, LastCost keeping it.
	sim.off[2] = true
	n.run(every, sim)
	if cost, _, _ := measureTop(sim.r, 2); float64(cost) < 0.97*float64(minC) {
		t.Errorf("cost %d half a second into a pause, want at least %d", cost, minC)
	}
	n.run(3*every, sim)
	if cost, _, in := measureTop(sim.r, 2); cost != 0 || float64(in.LastCost[MaxTemporalLayers-1]) < 0.97*float64(minC) {
		t.Errorf("two seconds into a pause: cost %d, last %d; want none and about %d", cost, in.LastCost[MaxTemporalLayers-1], steady)
	}
	n.run(4*every, sim)

	// Resumed: no cost over a frame or two, then one over what was sent
	// since it resumed only.
	sim.off[2] = false
	n.run(every/3, sim)
	if cost, _, _ := measureTop(sim.r, 2); cost != 0 {
		t.Errorf("cost %d a few frames after resuming, want none yet", cost)
	}
	for range 3 {
		n.run(every, sim)
		if cost, _, _ := measureTop(sim.r, 2); cost != 0 && (float64(cost) < 0.9*float64(minC) || float64(cost) > 1.2*float64(maxC)) {
			t.Errorf("cost %d after resuming, want about %d", cost, steady)
		}
	}
	if cost, _, _ := measureTop(sim.r, 2); cost == 0 {
		t.Errorf("no cost 1.5 s after resuming")
	}
}

func spread(v []int) (lo, hi int) {
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// TestCostHistoryWindow: the cost is taken from the oldest snapshot within
// costWindow, however long the history and however rarely it is read.
func TestCostHistoryWindow(t *testing.T) {
	var h costHistory
	sec := int64(time.Second)
	snap := func(at int64, bytes uint64) rateSnapshot {
		return rateSnapshot{at: at, bytes: [MaxTemporalLayers]uint64{bytes}}
	}
	// 1000 bytes a second for 10 s, then 3000 a second.
	for i := int64(0); i <= 20; i++ {
		at := i * sec / 2
		h.push(snap(at, uint64(500*i)), at)
	}
	for i := int64(1); i <= 4; i++ {
		at := 10*sec + i*sec/2
		h.push(snap(at, uint64(10_000+1500*i)), at)
	}
	// At 12 s: from 8 s (8000 bytes) to 12 s (16 000).
	if got := h.rate(snap(12*sec, 16_000), 12*sec)[0]; got != 16_000 {
		t.Errorf("cost %d bit/s, want 16000 (8000 bytes over 4 s)", got)
	}
	// Read 3 s later with nothing pushed (nobody measured): from the
	// oldest snapshot within costWindow and a half, 10.5 s (11 500).
	if got := h.rate(snap(15*sec, 25_000), 15*sec)[0]; got != 24_000 {
		t.Errorf("cost %d bit/s read late, want 24000 (13 500 bytes over 4.5 s)", got)
	}
	// Read half a second after the last packet: the span ends at it.
	if got := h.rate(snap(12*sec+sec/2, 16_000), 12*sec)[0]; got != 16_000 {
		t.Errorf("cost %d bit/s half a second after the last packet, want 16000", got)
	}
	// A snapshot two seconds after the last packet empties the history.
	h.push(snap(14*sec, 16_000), 12*sec)
	if got := h.rate(snap(14*sec, 16_000), 12*sec)[0]; got != 0 || h.n != 0 {
		t.Errorf("cost %d bit/s, %d snapshots after a silence of idleAfter, want none", got, h.n)
	}
}
