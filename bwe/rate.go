package bwe

import (
	"math"
	"time"
)

// The rate controller (draft-ietf-rmcat-gcc-02 §5.5): the delay
// detector's verdict drives an increase, hold and decrease state machine.
// Overuse decreases the rate to decreaseFactor of what the receiver
// acknowledged; underuse holds it (a queue draining); a normal verdict
// increases it, by increaseFactor a second while the rate is far from
// the link's capacity as the last decreases measured it, and by
// additivePerSecond near it. An increase never takes the rate beyond
// ackedCeiling of what was acknowledged: a rate the sender has not used
// is not known to fit.

const (
	decreaseFactor    = 0.85
	increaseFactor    = 1.08 // per second
	additivePerSecond = 24_000
	ackedCeiling      = 1.5
	ackedCeilingExtra = 10_000
	// linkAlpha is the weight of each new measurement of the link's
	// capacity (the rate acknowledged at a decrease); a rate more than
	// linkDeviations standard deviations off it starts the measure over.
	linkAlpha      = 0.05
	linkDeviations = 3
)

type rateState int

const (
	rateHold rateState = iota
	rateIncrease
	rateDecrease
)

// rateControl is the delay-based rate, guarded by the Estimator's mu.
type rateControl struct {
	rate  float64 // bits per second
	state rateState
	last  int64 // ns of the last update; 0 before the first
	// The link's capacity: the average and variance of the rates
	// acknowledged at decreases (bits per second).
	linkAvg, linkVar float64
	haveLink         bool
}

// update renews the rate from the verdict u, the acknowledged rate (bits
// per second, 0 when not known yet) and the time now (ns).
func (r *rateControl) update(u usage, acked float64, now int64) {
	switch u {
	case usageOver:
		r.state = rateDecrease
	case usageUnder:
		r.state = rateHold
	default:
		if r.state == rateHold {
			r.state = rateIncrease
		}
	}
	dt := 0.0
	if r.last != 0 {
		dt = min(float64(now-r.last)/float64(time.Second), 1)
	}
	r.last = now
	switch r.state {
	case rateIncrease:
		if r.haveLink && acked > r.linkAvg+linkDeviations*r.linkStd() {
			r.haveLink = false // the link grew: far from it again
		}
		next := r.rate * math.Pow(increaseFactor, dt)
		if r.haveLink {
			next = r.rate + additivePerSecond*dt
		}
		if ceiling := ackedCeiling*acked + ackedCeilingExtra; acked > 0 && next > ceiling {
			next = max(r.rate, ceiling)
		}
		r.rate = next
	case rateDecrease:
		next := decreaseFactor * r.rate
		if acked > 0 {
			next = decreaseFactor * acked
		}
		if next < r.rate {
			if r.haveLink && acked < r.linkAvg-linkDeviations*r.linkStd() {
				r.haveLink = false // the link shrank: measure it afresh
			}
			r.observeLink(acked)
			r.rate = next
		}
		r.state = rateHold
	}
}

// observeLink adds a measurement of the link's capacity.
func (r *rateControl) observeLink(acked float64) {
	if acked <= 0 {
		return
	}
	if !r.haveLink {
		r.linkAvg, r.linkVar, r.haveLink = acked, 0, true
		return
	}
	r.linkAvg = (1-linkAlpha)*r.linkAvg + linkAlpha*acked
	d := r.linkAvg - acked
	r.linkVar = (1-linkAlpha)*r.linkVar + linkAlpha*d*d
}

func (r *rateControl) linkStd() float64 { return math.Sqrt(r.linkVar) }

// The acknowledged rate: the octets of the packets the receiver reported,
// by their arrival in buckets of ackBucket, over the last ackBuckets of
// them.
const (
	ackBucket  = 50_000 // µs
	ackBuckets = 10
	// ackMinSpan is the least span of arrivals a rate is given for.
	ackMinSpan = 100_000 // µs
)

type ackedRate struct {
	buckets [ackBuckets]int
	head    int64 // the newest bucket's index
	first   int64 // µs of the first arrival counted
	started bool
}

// add counts size octets arrived at (µs).
func (a *ackedRate) add(at int64, size int) {
	idx := floorDiv(at, ackBucket)
	switch {
	case !a.started:
		a.head, a.first, a.started = idx, at, true
	case idx > a.head:
		for i := a.head + 1; i <= idx && i <= a.head+ackBuckets; i++ {
			a.buckets[mod(i, ackBuckets)] = 0
		}
		a.head = idx
	case idx <= a.head-ackBuckets:
		return // older than the window
	}
	a.buckets[mod(idx, ackBuckets)] += size
}

// rate is the acknowledged rate in bits per second, 0 before ackMinSpan
// of arrivals.
func (a *ackedRate) rate() float64 {
	if !a.started {
		return 0
	}
	span := min(int64(ackBuckets*ackBucket), (a.head+1)*ackBucket-a.first)
	if span < ackMinSpan {
		return 0
	}
	total := 0
	for _, b := range a.buckets {
		total += b
	}
	return float64(total) * 8 * 1e6 / float64(span)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// The loss controller (draft-ietf-rmcat-gcc-02 §6): over each lossWindow
// of feedback, a loss above lossHigh cuts the rate by half the loss, one
// below lossLow lets it grow by lossIncrease a second, and in between it
// holds.
const (
	lossWindow   = 200 * time.Millisecond
	lossHigh     = 0.1
	lossLow      = 0.02
	lossIncrease = 1.05 // per second
)

// lossControl is the loss-based rate, guarded by the Estimator's mu.
type lossControl struct {
	rate        float64
	lost, total int
	start       int64 // ns the window began; 0: none yet
	last        int64 // ns of the last increase
	// average is the loss of the last window (0 to 1).
	average float64
}

// add counts one feedback's packets at now: lost of total reported
// missing, and late that were reported missing before and came after all
// (taken off the losses, here or in the window after the one that
// counted them). At a window's end it renews the rate from current, the
// estimate now; it returns whether a window ended.
func (l *lossControl) add(lost, late, total int, current float64, now int64) bool {
	if l.start == 0 {
		l.start, l.last = now, now
	}
	l.lost = max(l.lost+lost-late, 0)
	l.total += total
	if now-l.start < int64(lossWindow) || l.total == 0 {
		return false
	}
	l.average = float64(l.lost) / float64(l.total)
	switch {
	case l.average > lossHigh:
		l.rate = min(l.rate, current) * (1 - l.average/2)
	case l.average < lossLow:
		dt := min(float64(now-l.last)/float64(time.Second), 1)
		l.rate *= math.Pow(lossIncrease, dt)
	}
	l.last = now
	l.lost, l.total, l.start = 0, 0, now
	return true
}
