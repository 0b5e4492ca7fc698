package forwarder

import (
	"testing"
	"time"
)

// probeFixture is an Allocator with a GCC estimate of 300 kbit/s and one
// 720p slot, probing through dt.
type probeFixture struct {
	a     *Allocator
	dt    *DownTrack
	slots []demandOf
	order []*DownTrack
}

func newProbeFixture() *probeFixture {
	a := NewAllocator(AllocatorConfig{Reserve: 50_000})
	a.bwe = 300_000
	dt := NewDownTrack("v", "s")
	return &probeFixture{a: a, dt: dt, slots: []demandOf{{rungs: ladder(threeLayers(), 1280, 720), floor: true}}, order: []*DownTrack{dt}}
}

// probe runs probeLocked at now with the slot on rung cur and applies the
// padding it orders.
func (f *probeFixture) probe(now int64, sending int, sent int64, cur int) []padOrder {
	pads := f.a.probeLocked(now, f.a.effectiveLocked(), sending, sent, f.slots, []int{cur}, f.order)
	for _, p := range pads {
		p.slot.SetPadding(p.bps)
	}
	return pads
}

// bytesAt is what a slot sending bps for d has sent.
func bytesAt(bps int, d time.Duration) int64 {
	return int64(float64(bps) / 8 * d.Seconds())
}

// TestAllocatorProbe: when the slots want more than GCC's estimate pays
// for, one slot pads up to the rate needed (at most three times what is
// sent); a probe that carried its target without congestion verifies
// it, which then counts as the estimate. A probe whose slot could not
// pad up to its target (padding follows frames) still verifies what it
// carried, when that is more than the estimate.
func TestAllocatorProbe(t *testing.T) {
	sec := int64(time.Second)
	f := newProbeFixture()
	a, dt := f.a, f.dt
	now := 10 * sec
	f.probe(now, 250_000, 0, 3) // h at its base frame rate, 250 kbit/s
	if a.probe.slot != dt || a.probe.target != 900_000 || dt.pad.rate != 650_000 {
		t.Fatalf("probe %+v, padding %d; want a probe of 900 kbit/s padding 650", a.probe, dt.pad.rate)
	}
	if pads := f.probe(now+sec, 880_000, bytesAt(880_000, time.Second), 3); pads != nil {
		t.Fatalf("the probe ended early: %v", pads)
	}
	f.probe(now+2*sec, 880_000, bytesAt(880_000, 2*time.Second), 3)
	if a.probe.slot != nil || a.probe.verified != 900_000 || dt.pad.rate != 0 || a.effectiveLocked() != 900_000 {
		t.Fatalf("after a clean probe: %+v, padding %d, estimate %d", a.probe, dt.pad.rate, a.effectiveLocked())
	}

	// The next probe, from 900 kbit/s, asks for the whole 1.5 Mbit/s with
	// headroom, the cost's margin and reserve but carries only 1.2
	// Mbit/s.
	now += 3 * sec
	start := bytesAt(880_000, 2*time.Second)
	f.probe(now, 850_000, start, 6)
	if a.probe.target != 2_030_000 {
		t.Fatalf("second probe %+v, want 2.03 Mbit/s", a.probe)
	}
	f.probe(now+2*sec, 1_200_000, start+bytesAt(1_200_000, 2*time.Second), 6)
	if a.probe.slot != nil || a.probe.verified != 1_200_000 || a.effectiveLocked() != 1_200_000 || a.probe.next > now+2*sec {
		t.Fatalf("after a probe that carried 1.2 Mbit/s: %+v, estimate %d", a.probe, a.effectiveLocked())
	}
}

// TestAllocatorCongestion: loss that stays above lossCongested for
// lossPersist is congestion, and the estimate becomes what the path
// carried (what was sent less what was lost) at once, however far GCC's
// own estimate is above it; it stays there, GCC's estimate rising again
// or not, until a probe shows more. A single burst of loss, or a figure
// GCC has not updated, is not congestion; a later measurement halves the
// estimate at most. Congestion during a probe ends it and makes the next
// one wait.
func TestAllocatorCongestion(t *testing.T) {
	sec := int64(time.Second)
	f := newProbeFixture()
	a := f.a
	a.bwe = 5_000_000 // GCC climbed while the slots sent less than it allowed
	now := 10 * sec

	// A burst: high for one look, then gone.
	a.observeLocked(now, Congestion{Loss: 0.3}, 1_450_000)
	a.observeLocked(now+sec/5, Congestion{Loss: 0.04}, 1_450_000)
	a.observeLocked(now+sec/2, Congestion{Loss: 0.3}, 1_450_000)
	if a.effectiveLocked() != 5_000_000 {
		t.Fatalf("a burst of loss changed the estimate to %d", a.effectiveLocked())
	}
	// The same figure again is not new feedback.
	a.observeLocked(now+sec, Congestion{Loss: 0.3}, 1_450_000)
	if a.effectiveLocked() != 5_000_000 || a.probe.lossSince != now+sec/2 {
		t.Fatalf("an unchanged loss figure counted: estimate %d, %+v", a.effectiveLocked(), a.probe)
	}
	// Fresh feedback, still lossy, lossPersist after the loss began.
	a.observeLocked(now+sec+sec/10, Congestion{Loss: 0.75}, 1_450_000)
	if got := a.effectiveLocked(); got != 375_000 {
		t.Fatalf("estimate %d after persistent 75 %% loss of 1.5 Mbit/s, want 375000", got)
	}
	cur := []int{8} // f at full rate
	if next := a.decide(now+sec+sec/10, a.effectiveLocked(), f.slots, cur); next[0] > 3 {
		t.Fatalf("rung %d (%v) for 375 kbit/s", next[0], f.slots[0].rungs[next[0]].layer)
	}

	// The loss GCC still averages right after is not measured again.
	a.observeLocked(now+2*sec, Congestion{Loss: 0.5}, 300_000)
	a.observeLocked(now+2*sec+2*sec/5, Congestion{Loss: 0.3}, 250_000)
	if got := a.effectiveLocked(); got != 375_000 {
		t.Fatalf("estimate %d: the settling loss was measured", got)
	}
	// GCC's estimate recovering does not lift the measured one...
	a.bwe = 2_000_000
	a.observeLocked(now+3*sec, Congestion{Loss: 0}, 250_000)
	if got := a.effectiveLocked(); got != 375_000 {
		t.Fatalf("estimate %d, want the measured 375000 until a probe", got)
	}
	// ...nor does it falling pull it below.
	a.bwe = 150_000
	if got := a.effectiveLocked(); got != 375_000 {
		t.Fatalf("estimate %d, want the measured 375000", got)
	}
	// Loss again while sending well within it: half at most.
	a.observeLocked(now+4*sec, Congestion{Loss: 0.5}, 100_000)
	a.observeLocked(now+4*sec+sec/2, Congestion{Loss: 0.6}, 100_000)
	if got := a.effectiveLocked(); got != 187_500 {
		t.Fatalf("estimate %d after a second measurement of 60000, want half of 375000", got)
	}
	a.observeLocked(now+6*sec, Congestion{Loss: 0.001}, 100_000)

	// A probe meets congestion: it ends, the next waits, and what it
	// carried is the estimate.
	now += 8 * sec
	f.probe(now, 250_000, 0, 3)
	if a.probe.slot == nil || a.probe.target != 750_000 {
		t.Fatalf("probe %+v, want 750 kbit/s (three times what is sent)", a.probe)
	}
	a.observeLocked(now+sec/4, Congestion{Loss: 0.5}, 1_000_000)
	f.probe(now+sec/4, 1_000_000, bytesAt(1_000_000, time.Second/4), 3)
	if a.probe.slot == nil {
		t.Fatalf("the probe ended on one look at the loss")
	}
	a.observeLocked(now+3*sec/4, Congestion{Loss: 0.6}, 1_000_000)
	f.probe(now+3*sec/4, 1_000_000, bytesAt(1_000_000, 3*time.Second/4), 3)
	if a.probe.slot != nil || f.dt.pad.rate != 0 || a.effectiveLocked() != 420_000 {
		t.Fatalf("after congestion in a probe: %+v, padding %d, estimate %d", a.probe, f.dt.pad.rate, a.effectiveLocked())
	}
	if a.probe.backoff != minProbeBackoff || a.lastDown != now+3*sec/4 {
		t.Fatalf("backoff %v, last down %d", a.probe.backoff, a.lastDown)
	}
	if pads := f.probe(now+4*sec, 250_000, bytesAt(1_000_000, 3*time.Second/4), 3); pads != nil || a.probe.slot != nil {
		t.Fatalf("probed within UpHold")
	}

	// A probe that succeeds lifts the ceiling.
	now += 6 * sec
	a.bwe = 600_000
	f.probe(now, 400_000, 0, 4)
	target := a.probe.target
	f.probe(now+2*sec, target, bytesAt(target, 2*time.Second), 4)
	if a.probe.ceiling != 0 || a.effectiveLocked() != target {
		t.Fatalf("after a clean probe to %d: %+v, estimate %d", target, a.probe, a.effectiveLocked())
	}
}

// TestAllocatorProven: sending cleanly for provenAfter verifies what is
// sent, the audio of the reserve too.
func TestAllocatorProven(t *testing.T) {
	sec := int64(time.Second)
	a := NewAllocator(AllocatorConfig{Reserve: 50_000})
	a.bwe = 300_000
	for i := range int64(8) {
		a.observeLocked(10*sec+i*sec/2, Congestion{Loss: 0.01 - float64(i)/1000}, 400_000+int(i)*1000)
	}
	if a.probe.verified != 450_000 || a.effectiveLocked() != 450_000 {
		t.Errorf("verified %d after sending 400 kbit/s cleanly, want 450000", a.probe.verified)
	}
}
