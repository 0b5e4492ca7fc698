package forwarder

import (
	"testing"
	"time"
)

// TestAllocatorProbe: when the slots want more than GCC's estimate pays
// for, one slot pads up to the rate needed (at most three times what is
// sent); a probe the feedback finds clean verifies that rate, which then
// counts as the estimate; congestion ends a probe at once, forgets what
// was verified, and makes the next probe wait twice as long.
func TestAllocatorProbe(t *testing.T) {
	sec := int64(time.Second)
	a := NewAllocator(AllocatorConfig{Reserve: 50_000})
	a.bwe = 300_000
	dt := NewDownTrack("v", "s")
	slots := []demandOf{{rungs: ladder(threeLayers(), 1280, 720), floor: true}}
	order := []*DownTrack{dt}
	next := []int{3} // h at its base frame rate, 250 kbit/s
	apply := func(pads []padOrder) {
		for _, p := range pads {
			p.slot.SetPadding(p.bps)
		}
	}
	now := 10 * sec
	apply(a.probeLocked(now, a.effectiveLocked(), 250_000, slots, next, order))
	if a.probe.slot != dt || a.probe.target != 900_000 || dt.pad.rate != 650_000 {
		t.Fatalf("probe %+v, padding %d; want a probe of 900 kbit/s padding 650", a.probe, dt.pad.rate)
	}
	if pads := a.probeLocked(now+sec, 300_000, 880_000, slots, next, order); pads != nil {
		t.Fatalf("the probe ended early: %v", pads)
	}
	apply(a.probeLocked(now+2*sec, 300_000, 880_000, slots, next, order))
	if a.probe.slot != nil || a.probe.verified != 900_000 || dt.pad.rate != 0 || a.effectiveLocked() != 900_000 {
		t.Fatalf("after a clean probe: %+v, padding %d, estimate %d", a.probe, dt.pad.rate, a.effectiveLocked())
	}

	// The next probe, from 900 kbit/s, meets congestion.
	now += 3 * sec
	apply(a.probeLocked(now, a.effectiveLocked(), 850_000, slots, []int{6}, order))
	if a.probe.target != 1_850_000 {
		t.Fatalf("second probe %+v, want the whole 1.5 Mbit/s with headroom and reserve", a.probe)
	}
	a.observeLocked(now+sec/2, Congestion{Loss: 0.3}, 1_200_000)
	apply(a.probeLocked(now+sec/2, a.effectiveLocked(), 1_200_000, slots, []int{6}, order))
	if a.probe.slot != nil || a.probe.verified != 0 || dt.pad.rate != 0 || a.effectiveLocked() != 300_000 {
		t.Fatalf("after congestion: %+v, padding %d, estimate %d", a.probe, dt.pad.rate, a.effectiveLocked())
	}
	if a.probe.backoff != minProbeBackoff || a.lastDown != now+sec/2 {
		t.Fatalf("backoff %v, last down %d", a.probe.backoff, a.lastDown)
	}
	// No probe within UpHold of the failure.
	if pads := a.probeLocked(now+4*sec, 300_000, 250_000, slots, next, order); pads != nil || a.probe.slot != nil {
		t.Fatalf("probed within UpHold")
	}

	// Sending cleanly for provenAfter verifies what is sent, audio too.
	for i := range int64(8) {
		a.observeLocked(now+5*sec+i*sec/2, Congestion{Loss: 0.01}, 400_000+int(i)*1000)
	}
	if a.probe.verified != 450_000 {
		t.Errorf("verified %d after sending 400 kbit/s cleanly, want 450000", a.probe.verified)
	}
}
