package forwarder

import (
	"time"

	"go.uber.org/zap"
)

// Bandwidth probing. GCC's estimate (package bwe) climbs at most 8 % a second and
// only with the rate actually sent, so after a congestion it would take
// half a minute to show room for the large layer again. The Allocator
// therefore probes before it steps up: one slot pads up to the rate the
// step needs, for ProbeTime; if the subscriber's feedback shows no
// congestion meanwhile, that rate counts as available (verified) and the
// slots step up to it. A probe that meets congestion ends as soon as the
// loss persists and the next waits twice as long (up to maxProbeBackoff):
// a link that is full is not hammered every few seconds.
//
// Congestion is measured, not just noticed: when the loss stays high, what
// the path carries is what was sent less what was lost, and the estimate
// is set to that at once (both a floor and a ceiling) until a probe shows
// more. GCC's own estimate may by then be far above the rate sent (it
// keeps climbing while the slots send less than it allows) and its loss
// controller takes it down by at most half every 200 ms, which took one to
// two seconds before the slots stepped down; and after the loss it
// undershoots, down to a fraction of what the path had just carried.

// lossCongested is the loss above which the path counts as congested: the
// threshold at which GCC's loss controller starts decreasing
// (draft-ietf-rmcat-gcc-02 §6); below lossClean it may increase.
const (
	lossCongested = 0.1
	lossClean     = 0.02
)

// lossPersist is how long the loss must stay above lossCongested, seen in
// fresh feedback at both ends, before the path counts as congested. GCC
// averages the loss over about 200 ms of feedback, so one burst (a receiver
// that read a few packets too late to report them, a short stall) keeps it
// high for a few hundred milliseconds; a link too narrow for what is sent
// keeps it high for as long as that lasts.
const lossPersist = 400 * time.Millisecond

// congestionSettle is how long after a congestion was measured the loss
// is not measured again: the slots step down at the next key frame of
// their new layers, and GCC's average still holds the loss of before for
// a few hundred milliseconds. Measured earlier, it would be taken for the
// new rate's and cut the estimate again.
const congestionSettle = time.Second

// provenAfter is how long the slots must send at a rate with the loss
// below lossClean for that rate to count as carried (verified). GCC's
// delay detector fires on jitter a busy host adds as readily as on a
// filling queue; a rate the path has been delivering cleanly for seconds
// is not given up for that alone, only for loss.
const provenAfter = 3 * time.Second

// probeMultiple bounds a probe to this many times what is being sent: a
// slot climbing from the smallest layer probes in a few steps rather than
// flooding a link it knows nothing about.
const probeMultiple = 3

// Backoff between probes that failed.
const (
	minProbeBackoff = 2 * time.Second
	maxProbeBackoff = 30 * time.Second
)

// prober is the Allocator's probe state, guarded by its mu.
type prober struct {
	slot     *DownTrack // padding now; nil when no probe runs
	target   int        // the total rate probed, bits per second
	until    int64
	backoff  time.Duration
	next     int64 // no probe starts before
	verified int   // a rate a probe showed the path carries; 0: none
	// ceiling is what the path carried at the last congestion (0: none):
	// the estimate stays within it until a probe shows more.
	ceiling int
	// startBytes and startAt are what the slots had sent when the probe
	// started, and when.
	startBytes, startAt int64
	// cleanSince is when the loss last went below lossClean (0: it is
	// not), cleanMin the lowest send rate measured since.
	cleanSince int64
	cleanMin   int
	// lossSince is when the loss went above lossCongested (0: it is not);
	// lastLoss is the loss last looked at.
	lossSince int64
	lastLoss  float64
}

// padOrder tells a slot to pad at bps (0: stop).
type padOrder struct {
	slot *DownTrack
	bps  int
}

// sendMeter measures what the slots send, media and padding.
type sendMeter struct {
	at, bytes int64 // the last snapshot
	bps       int
}

// minMeterSpan is the shortest span the send rate is measured over.
const minMeterSpan = 400 * time.Millisecond

func (m *sendMeter) rate(now int64, bytes int64) int {
	switch {
	case m.at == 0 || bytes < m.bytes:
		m.at, m.bytes = now, bytes
	case now-m.at >= int64(minMeterSpan):
		m.bps = int(float64(bytes-m.bytes) * 8 * float64(time.Second) / float64(now-m.at))
		m.at, m.bytes = now, bytes
	}
	return m.bps
}

// sentBytes is what the slots sent, headers included as in the layers'
// bitrates.
func sentBytes(slots []*DownTrack) int64 {
	var n int64
	for _, dt := range slots {
		st := dt.Stats()
		n += int64(st.Bytes + st.Packets*rtpHeaderBytes + st.PaddingBytes)
	}
	return n
}

// observeLocked takes in the feedback: a rate sent cleanly for
// provenAfter is verified; loss that persists is congestion. A loss figure
// equal to the last one is GCC's unchanged (no feedback processed since):
// it is not new evidence either way.
func (a *Allocator) observeLocked(now int64, c Congestion, sending int) {
	p := &a.probe
	if c.Loss != 0 && c.Loss == p.lastLoss {
		return
	}
	p.lastLoss = c.Loss
	switch {
	case c.Loss >= lossClean:
		p.cleanSince = 0
	case p.cleanSince == 0:
		p.cleanSince, p.cleanMin = now, sending
	default:
		p.cleanMin = min(p.cleanMin, sending)
		// The audio (the reserve) went through as cleanly.
		if proven := p.cleanMin + a.cfg.Reserve; now-p.cleanSince >= int64(provenAfter) && proven > p.verified && p.slot == nil {
			p.verified = proven
		}
	}
	switch {
	case c.Loss <= lossCongested:
		p.lossSince = 0
	case p.lossSince == 0:
		p.lossSince = now
	case now-p.lossSince >= int64(lossPersist):
		// The next measurement waits for the slots' new layers to show
		// in the feedback.
		p.lossSince = now + int64(congestionSettle)
		a.congestedLocked(now, c.Loss, sending)
	}
}

// congestedLocked takes the path's rate to be what it carried of what was
// sent (media, padding and the reserve's audio), and ends a probe as
// failed.
func (a *Allocator) congestedLocked(now int64, loss float64, sending int) {
	p := &a.probe
	carried := 0
	if sending > 0 {
		carried = int(float64(sending+a.cfg.Reserve) * (1 - loss))
	}
	// Once measured, the estimate falls by half at most per measurement,
	// as GCC's loss controller does per step: loss reported while the
	// slots already send within what the path carried is as likely late
	// feedback, or a receiver's hiccup, as a link that narrowed again; if
	// it did, the loss goes on and the next measurement cuts again.
	if p.ceiling > 0 {
		carried = max(carried, p.ceiling/2)
	}
	a.cfg.Log.Debug("congestion", zap.Float64("loss", loss), zap.Int("sending", sending), zap.Int("carried", carried),
		zap.Int("verified", p.verified))
	// With nothing sent yet to measure by (carried 0), GCC's estimate rules.
	p.verified, p.ceiling = carried, carried
	if p.slot != nil {
		p.until = now // ends (failed) in probeLocked
		p.target = -1
	}
}

// effectiveLocked is the estimate allocation works with: the higher of
// GCC's steady estimate (steady.go) and what was verified, within what the
// last congestion measured and the subscriber's REMB.
func (a *Allocator) effectiveLocked() int {
	e := a.steady.held
	if e == 0 {
		e = a.bwe // no allocation has looked at it yet
	}
	if e > 0 && a.probe.verified > e {
		e = a.probe.verified
	}
	if c := a.probe.ceiling; c > 0 && (e == 0 || e > c) {
		e = c
	}
	switch {
	case e == 0:
		return a.remb
	case a.remb == 0:
		return e
	}
	return min(e, a.remb)
}

// probeOverLocked reports whether a probe runs and is over at now, give
// or take tickSlack. Ending one a few milliseconds early takes nothing from
// its verdict: what it carried is measured over the time it actually ran.
func (a *Allocator) probeOverLocked(now int64) bool {
	p := &a.probe
	return p.slot != nil && now >= p.until-int64(a.cfg.Interval/tickSlack)
}

// probeLocked ends a probe that is over and starts one when the slots
// want more than the estimate pays for (sent: the bytes the slots have
// sent so far). It returns the padding changes to make once the lock is
// released.
func (a *Allocator) probeLocked(now int64, est, sending int, sent int64, slots []demandOf, next []int, order []*DownTrack) []padOrder {
	p := &a.probe
	if p.slot != nil {
		if !a.probeOverLocked(now) {
			return nil
		}
		return a.endProbeLocked(now, sent)
	}
	want := 0
	for _, s := range slots {
		want += rate(s, len(s.rungs)-1)
	}
	if est == 0 || want <= allocTotal(slots, next) || now < p.next || a.holdingLocked(now) {
		return nil
	}
	// The probe asks costMargin more than the step needs: the step up it
	// verifies is judged on the cost measured when it ends, which may have
	// moved by that much since it began without anything having changed.
	target := min(int(float64(want)*a.cfg.Headroom*(1+costMargin))+a.cfg.Reserve, probeMultiple*max(est, sending))
	if target <= est {
		return nil // no need: the estimate already pays for the step
	}
	for i, s := range slots {
		if len(s.rungs) > 0 {
			p.slot, p.target, p.until = order[i], target, now+int64(a.cfg.ProbeTime)
			p.startBytes, p.startAt = sent, now
			a.cfg.Log.Debug("probe", zap.Int("target", target), zap.Int("estimate", est), zap.Int("sending", sending))
			return []padOrder{{slot: p.slot, bps: max(target-sending, 0)}}
		}
	}
	return nil
}

// endProbeLocked judges the probe that just ended by what the slots sent
// meanwhile, media and padding. Padding goes out between frames, in
// bursts of at most maxPadBurst, so a slot whose publisher sends few
// packets may not reach the target: what it did send without congestion
// is still carried, and the next probe starts from there.
func (a *Allocator) endProbeLocked(now int64, sent int64) []padOrder {
	p := &a.probe
	stop := []padOrder{{slot: p.slot}}
	carried := 0
	if now > p.startAt {
		carried = int(float64(sent-p.startBytes) * 8 * float64(time.Second) / float64(now-p.startAt))
	}
	switch {
	case p.target < 0: // congestion
		p.backoff = min(max(2*p.backoff, minProbeBackoff), maxProbeBackoff)
		p.next = now + int64(p.backoff)
		a.lastDown = now
		a.cfg.Log.Debug("probe failed", zap.Duration("backoff", p.backoff))
	case float64(carried) >= 0.8*float64(p.target):
		p.verified, p.ceiling = p.target, 0
		p.backoff = 0
		a.cfg.Log.Debug("probe succeeded", zap.Int("verified", p.verified))
	case carried > a.effectiveLocked():
		p.verified = carried
		if p.ceiling > 0 {
			p.ceiling = max(p.ceiling, carried)
		}
		a.cfg.Log.Debug("probe carried less than its target", zap.Int("target", p.target), zap.Int("verified", carried))
	default:
		// Not enough was sent to tell (frames stalled): try again later.
		p.next = now + int64(minProbeBackoff)
	}
	p.slot, p.target = nil, 0
	return stop
}
