package forwarder

import (
	"time"

	"go.uber.org/zap"
)

// Bandwidth probing. pion's GCC estimate climbs at most 8 % a second and
// only with the rate actually sent, so after a congestion it would take
// half a minute to show room for the large layer again. The Allocator
// therefore probes before it steps up: one slot pads up to the rate the
// step needs, for ProbeTime; if the subscriber's feedback shows no
// congestion meanwhile, that rate counts as available (verified) and the
// slots step up to it. A probe that meets congestion ends at once and the
// next waits twice as long (up to maxProbeBackoff): a link that is full
// is not hammered every few seconds.

// lossCongested is the loss above which the path counts as congested: the
// threshold at which GCC's loss controller starts decreasing
// (draft-ietf-rmcat-gcc-02 §6); below lossClean it may increase.
const (
	lossCongested = 0.1
	lossClean     = 0.02
)

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
	// cleanSince is when the loss last went below lossClean (0: it is
	// not), cleanMin the lowest send rate measured since.
	cleanSince int64
	cleanMin   int
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

// observeLocked takes in the feedback: congestion forgets what probes
// verified, so the estimate falls back to GCC's, which has fallen; a rate
// sent cleanly for provenAfter is verified.
func (a *Allocator) observeLocked(now int64, c Congestion, sending int) {
	p := &a.probe
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
	if c.Loss <= lossCongested {
		return
	}
	if a.probe.verified > 0 {
		a.cfg.Log.Debug("congestion: probed rate forgotten", zap.Float64("loss", c.Loss), zap.Int("verified", a.probe.verified))
	}
	a.probe.verified = 0
	if a.probe.slot != nil {
		a.probe.until = now // ends (failed) in probeLocked
		a.probe.target = -1
	}
}

// effectiveLocked is the estimate allocation works with: the higher of
// GCC's and what a probe verified, within the subscriber's REMB.
func (a *Allocator) effectiveLocked() int {
	e := a.bwe
	if e > 0 && a.probe.verified > e {
		e = a.probe.verified
	}
	switch {
	case e == 0:
		return a.remb
	case a.remb == 0:
		return e
	}
	return min(e, a.remb)
}

// probeLocked ends a probe that is over and starts one when the slots
// want more than the estimate pays for. It returns the padding changes to
// make once the lock is released.
func (a *Allocator) probeLocked(now int64, est, sending int, slots []demandOf, next []int, order []*DownTrack) []padOrder {
	p := &a.probe
	if p.slot != nil {
		if now < p.until {
			return nil
		}
		return a.endProbeLocked(now, sending)
	}
	want := 0
	for _, s := range slots {
		want += rate(s, len(s.rungs)-1)
	}
	if est == 0 || want <= allocTotal(slots, next) || now < p.next || now-a.lastDown < int64(a.cfg.UpHold) {
		return nil
	}
	target := min(int(float64(want)*a.cfg.Headroom)+a.cfg.Reserve, probeMultiple*max(est, sending))
	if target <= est {
		return nil // no need: the estimate already pays for the step
	}
	for i, s := range slots {
		if len(s.rungs) > 0 {
			p.slot, p.target, p.until = order[i], target, now+int64(a.cfg.ProbeTime)
			a.cfg.Log.Debug("probe", zap.Int("target", target), zap.Int("estimate", est), zap.Int("sending", sending))
			return []padOrder{{slot: p.slot, bps: max(target-sending, 0)}}
		}
	}
	return nil
}

// endProbeLocked judges the probe that just ended.
func (a *Allocator) endProbeLocked(now int64, sending int) []padOrder {
	p := &a.probe
	stop := []padOrder{{slot: p.slot}}
	switch {
	case p.target < 0: // congestion
		p.backoff = min(max(2*p.backoff, minProbeBackoff), maxProbeBackoff)
		p.next = now + int64(p.backoff)
		a.lastDown = now
		a.cfg.Log.Debug("probe failed", zap.Duration("backoff", p.backoff))
	case float64(sending) >= 0.8*float64(p.target):
		p.verified = p.target
		p.backoff = 0
		a.cfg.Log.Debug("probe succeeded", zap.Int("verified", p.verified))
	default:
		// Not enough was sent to tell (frames stalled): try again later.
		p.next = now + int64(minProbeBackoff)
	}
	p.slot, p.target = nil, 0
	return stop
}
