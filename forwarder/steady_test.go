package forwarder

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// feedback is what one allocation sees: GCC's estimate in kbit/s, the
// loss, and whether the delay detector said overuse.
type feedback struct {
	kbps    int
	loss    float64
	overuse bool
}

// The sequences below follow pion's GCC as it behaves for one viewer of
// a 1.5 Mbit/s 720p layer, one allocation (500 ms) a line: each overuse
// takes the estimate to 85 % of the rate received (1.28 Mbit/s), each
// second without one raises it by 8 %.

// jitterFeedback is a busy host: the delay detector fires now and then,
// at one allocation at a time, nothing is lost, and the estimate sits
// under what the top layer costs for most of the 30 s.
var jitterFeedback = func() []feedback {
	fb := []feedback{{2500, 0, false}, {2500, 0, false}}
	climb := []int{1280, 1330, 1380, 1435, 1490}
	for i := range 12 {
		for j, k := range climb[:2+i%4] {
			fb = append(fb, feedback{k, 0, j == 0})
		}
	}
	return fb
}()

// TestSteadyEstimateJitter: a fall of GCC's estimate without loss and
// without a lasting delay trend moves no slot: the slot stays on the top
// layer throughout, with no probe either.
func TestSteadyEstimateJitter(t *testing.T) {
	w := newAllocWorld(t, 2_500_000)
	top := TopLayer
	top.Spatial = 2
	for i, f := range jitterFeedback {
		w.a.SetEstimate(f.kbps * 1000)
		w.loss, w.overuse = f.loss, f.overuse
		if got := w.step(); got != top {
			t.Fatalf("allocation %d (%+v): layer %+v, want f", i, f, got)
		}
	}
	if len(w.downs) != 0 || len(w.probes) != 0 {
		t.Fatalf("steps down at %v, probes at %v: want none", w.downs, w.probes)
	}
	if w.a.steady.ignored == 0 {
		t.Fatal("no fall was ignored: the sequence shows nothing")
	}
}

// TestSteadyEstimateDelayTrend: a fall the delay detector confirms at
// every allocation for delayPersist steps the slot down then, not
// before.
func TestSteadyEstimateDelayTrend(t *testing.T) {
	fb := []feedback{{2500, 0, false}, {2500, 0, false}, {2500, 0, false}}
	for _, k := range []int{1280, 1250, 1200, 1180, 1150, 1120, 1100, 1100} {
		fb = append(fb, feedback{k, 0, true})
	}
	w := newAllocWorld(t, 2_500_000)
	var first int64
	for i, f := range fb {
		if f.overuse && first == 0 {
			first = w.now
		}
		w.a.SetEstimate(f.kbps * 1000)
		w.loss, w.overuse = f.loss, f.overuse
		before := len(w.downs)
		w.step()
		if len(w.downs) > before && w.downs[0]-first < int64(delayPersist-w.a.cfg.Interval/tickSlack) {
			t.Fatalf("allocation %d: stepped down %v after the trend began, before delayPersist", i, time.Duration(w.downs[0]-first))
		}
	}
	if len(w.downs) != 1 || w.downs[0]-first > int64(delayPersist) {
		t.Fatalf("steps down at %v (trend from %v): want one, delayPersist after it began", w.downs, time.Duration(first))
	}
}

// TestSteadyEstimateLoss: a fall with loss steps the slot down at the
// allocation that sees it.
func TestSteadyEstimateLoss(t *testing.T) {
	fb := []feedback{{2500, 0, false}, {2500, 0, false}, {2500, 0, false}, {1280, 0.03, false}}
	w := newAllocWorld(t, 2_500_000)
	var at int64
	for _, f := range fb {
		w.a.SetEstimate(f.kbps * 1000)
		w.loss, w.overuse = f.loss, f.overuse
		at = w.now
		w.step()
	}
	if len(w.downs) != 1 || w.downs[0] != at {
		t.Fatalf("steps down at %v, want one at %v", w.downs, at)
	}
}

// TestReceiverReportLoss: the loss the allocator acts on is the lower of
// GCC's and the viewers' receiver reports while one is fresh: a starved
// viewer whose transport feedback misses two thirds of the packets it
// reads a moment later, but whose receiver reports lose none, is clean;
// a report on another stream, or one older than rrFresh, does not count.
func TestReceiverReportLoss(t *testing.T) {
	dt := NewDownTrack("v", "s")
	bindTrack(t, dt, 0x77)
	now := time.Now().UnixNano()
	if _, ok := receiverLoss([]*DownTrack{dt}, now); ok {
		t.Fatal("a loss before any receiver report")
	}
	dt.handleRTCP(&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 0x78, FractionLost: 200}}}, nil)
	if _, ok := receiverLoss([]*DownTrack{dt}, now); ok {
		t.Fatal("a report on another stream counted")
	}
	dt.handleRTCP(&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 0x77, FractionLost: 0}}}, nil)
	other := NewDownTrack("w", "s")
	bindTrack(t, other, 0x79)
	other.handleRTCP(&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 0x79, FractionLost: 64}}}, nil)
	now = time.Now().UnixNano()
	if loss, ok := receiverLoss([]*DownTrack{dt, other}, now); !ok || loss != 0.25 {
		t.Fatalf("loss %v %v, want 0.25 (the higher of the slots')", loss, ok)
	}
	if loss, ok := receiverLoss([]*DownTrack{dt}, now); !ok || loss != 0 {
		t.Fatalf("loss %v %v, want 0", loss, ok)
	}
	if _, ok := receiverLoss([]*DownTrack{dt}, now+int64(rrFresh)+1); ok {
		t.Fatal("a stale report counted")
	}
}
