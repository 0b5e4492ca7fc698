package forwarder

import (
	"time"

	"go.uber.org/zap"
)

// The steady estimate. GCC (package bwe) lowers its estimate to 85 % of the rate
// received whenever its delay detector sees the feedback's arrival times
// spread more than they were sent, which is as true of a busy host that
// schedules a receiver's or confd's goroutines late as of a queue filling
// on the path. A loaded machine makes such jitter every second or two, and
// each fall of GCC's estimate took the slots down a layer, each switch
// cost every viewer of the layer a key frame, and each climb back waited
// for UpHold and a probe. So the allocator does not act on a fall of GCC's
// estimate by itself: the fall must be borne out by
//   - loss (lossClean or more in the feedback that saw the fall), which
//     a busy host's jitter does not cause, or
//   - a lasting delay trend: the delay detector saying overuse at every
//     allocation for delayPersist, as a queue that keeps filling does
//     (the forwarder sends at its layers' rate, not GCC's, so a path
//     narrower than that stays overused until the slots step down), where
//     jitter comes and goes within a few hundred milliseconds.
// Until then the allocator keeps the estimate it held before the fall
// (the steady estimate). A rise is taken at once, as before: stepping up
// still waits for UpHold, Headroom and a probe.

// Loss is read from two places. GCC's figure comes from the transport-wide
// feedback, which reports as lost every packet the viewer had not read
// when it wrote the feedback: on a starved host that is a third to two
// thirds of them, all of which arrive a moment later (measured with
// pion's GCC: 60 % over a minute in which the viewers lost 63 packets of
// 280,000). confd's estimator takes such a packet off the losses when a
// later feedback reports it after all (package bwe), but a window can
// close before that feedback comes. The viewer's RTCP receiver reports
// count by sequence number what never came (RFC 3550 §6.4.1). So while a
// receiver report is fresh (rrFresh), the loss the allocator acts on is
// the lower of the two: a path that drops packets shows in both, a late
// reader only in GCC's.
const rrFresh = 3 * time.Second

// receiverLoss is the highest fraction lost in the slots' fresh receiver
// reports at now; ok is false when none has one.
func receiverLoss(slots []*DownTrack, now int64) (loss float64, ok bool) {
	for _, dt := range slots {
		v := dt.rrLost.Load()
		if v == 0 || now-dt.rrAt.Load() > int64(rrFresh) {
			continue
		}
		loss, ok = max(loss, float64(v-1)/256), true
	}
	return loss, ok
}

// delayPersist is how long the delay detector must report overuse, at
// every allocation, for a fall of GCC's estimate without loss to count.
// Four allocations at the default Interval: a queue filling at a tenth
// of the path's rate grows by 200 ms in that time.
const delayPersist = 2 * time.Second

// steadyState is the Allocator's steady estimate, guarded by its mu.
type steadyState struct {
	// held is the GCC estimate allocation acts on (0: none, no limit).
	held int
	// overuseSince is when the delay detector began reporting overuse at
	// every allocation (0: it did not at the last one).
	overuseSince int64
	// ignored counts the falls of GCC's estimate not acted on (for the log
	// and tests).
	ignored int
}

// steadyLocked takes GCC's estimate bwe and the feedback c at now and
// returns the estimate allocation acts on.
func (a *Allocator) steadyLocked(now int64, bwe int, c Congestion) int {
	s := &a.steady
	switch {
	case !c.Overuse:
		s.overuseSince = 0
	case s.overuseSince == 0:
		s.overuseSince = now
	}
	if bwe <= 0 || s.held <= 0 || float64(bwe) >= float64(s.held)*(1-estimateSlack) {
		s.held = bwe // a rise, a wobble, or the first estimate
		return s.held
	}
	trend := s.overuseSince != 0 && now-s.overuseSince >= int64(delayPersist-a.cfg.Interval/tickSlack)
	switch {
	case c.Loss >= lossClean:
		a.cfg.Log.Debug("estimate fell with loss", zap.Int("from", s.held), zap.Int("to", bwe), zap.Float64("loss", c.Loss))
	case trend:
		// The rate proven clean is not a floor against a queue that
		// keeps filling: it is proven again at the new rate.
		a.cfg.Log.Debug("estimate fell with a lasting delay trend", zap.Int("from", s.held), zap.Int("to", bwe))
		a.probe.verified = min(a.probe.verified, bwe)
		a.probe.cleanSince = 0
	default:
		s.ignored++
		return s.held // jitter: no loss, no lasting trend
	}
	s.held = bwe
	return s.held
}
