package bwe

import "math"

// The delay detector (draft-ietf-rmcat-gcc-02 §5): packets sent within
// groupSpan of each other form a group; between two groups the
// difference of their arrival spacing and their send spacing is the
// delay variation. A queue filling on the path makes it positive, one
// group after another, so the accumulated variation climbs; its slope
// over the last trendWindow groups, scaled, is the trend. A trend above
// the adaptive threshold for long enough is overuse, below its negative
// underuse (a queue draining).

// usage is the detector's verdict.
type usage int

const (
	usageNormal usage = iota
	usageOver
	usageUnder
)

const (
	// groupSpan is the span of send times one group covers: a frame's
	// packets go out within it.
	groupSpan = 5000 // µs
	// trendWindow groups make the slope; trendSmoothing is the weight of
	// the smoothed delay's past; trendGain scales the slope by the
	// window's reach (at most trendDeltas groups) to the threshold's
	// units.
	trendWindow    = 20
	trendSmoothing = 0.9
	trendGain      = 4.0
	trendDeltas    = 60
	// overuseTime is how long (of send time) the trend must stay over
	// the threshold before it counts.
	overuseTime = 10.0 // ms
	// The adaptive threshold: it follows the trend up slowly (kUp) and
	// down fast (kDown) so that a trend that jitter keeps high raises it
	// and only a sharp rise stands out, within its bounds.
	thresholdInitial = 12.5
	thresholdMin     = 6.0
	thresholdMax     = 600.0
	thresholdKUp     = 0.0087
	thresholdKDown   = 0.039
	// thresholdOutlier is how far above the threshold a trend is not
	// learnt from (a spike).
	thresholdOutlier = 15.0
	// clockJump is the delay variation taken to mean the receiver's
	// clock or the path changed, not a queue: the detector starts over.
	clockJump = 3_000_000 // µs
)

// group is one burst of packets.
type group struct {
	firstSent, lastSent int64 // µs
	lastArrival         int64 // µs, the receiver's clock
	n                   int
}

// delayDetector is the detector's state, guarded by the Estimator's mu.
type delayDetector struct {
	cur, prev group

	// The trend line.
	deltas       int
	firstArrival int64 // µs
	acc, smooth  float64
	xs, ys       [trendWindow]float64
	filled, head int

	// The overuse detector.
	threshold     float64
	lastAdapt     int64   // µs of arrival, 0 before the first
	overTime      float64 // ms, -1 when not over
	overCount     int
	prevTrend     float64
	state         usage
	haveFirstTime bool
}

func newDelayDetector() delayDetector {
	return delayDetector{threshold: thresholdInitial, overTime: -1}
}

// packet takes in one received packet, in sequence order: sent when it
// went (µs, confd's clock), arrived when it came (µs, the receiver's).
// It returns true when a group completed and the verdict was renewed.
func (d *delayDetector) packet(sent, arrived int64) bool {
	c := &d.cur
	if c.n == 0 {
		*c = group{firstSent: sent, lastSent: sent, lastArrival: arrived, n: 1}
		return false
	}
	if sent-c.firstSent <= groupSpan || d.burst(sent, arrived) {
		c.lastSent = max(c.lastSent, sent)
		c.lastArrival = max(c.lastArrival, arrived)
		c.n++
		return false
	}
	renewed := false
	if d.prev.n != 0 {
		renewed = d.sample(c.lastSent-d.prev.lastSent, c.lastArrival-d.prev.lastArrival, c.lastArrival)
	}
	d.prev = *c
	*c = group{firstSent: sent, lastSent: sent, lastArrival: arrived, n: 1}
	return renewed
}

// burst reports whether a packet that went after the current group's
// span still belongs to it: it arrived within groupSpan of the group's
// last packet and closer than it was sent, as packets released together
// from a queue upstream do.
func (d *delayDetector) burst(sent, arrived int64) bool {
	da := arrived - d.cur.lastArrival
	return da >= 0 && da <= groupSpan && da-(sent-d.cur.lastSent) < 0
}

// sample takes the spacing of two groups (send, arrival, µs) and the
// later one's arrival.
func (d *delayDetector) sample(sendDelta, arrivalDelta, arrival int64) bool {
	if sendDelta < 0 || arrivalDelta < 0 {
		return false // reordered sends or arrivals: no meaning
	}
	variation := arrivalDelta - sendDelta
	if variation > clockJump || variation < -clockJump {
		*d = newDelayDetector()
		return false
	}
	d.deltas = min(d.deltas+1, trendDeltas)
	if !d.haveFirstTime {
		d.firstArrival, d.haveFirstTime = arrival, true
	}
	d.acc += float64(variation) / 1000
	d.smooth = trendSmoothing*d.smooth + (1-trendSmoothing)*d.acc
	d.xs[d.head] = float64(arrival-d.firstArrival) / 1000
	d.ys[d.head] = d.smooth
	d.head = (d.head + 1) % trendWindow
	d.filled = min(d.filled+1, trendWindow)
	trend := d.prevTrend
	if d.filled == trendWindow {
		if s, ok := slope(d.xs[:], d.ys[:]); ok {
			trend = s * float64(d.deltas) * trendGain
		}
	}
	d.detect(trend, float64(sendDelta)/1000, arrival)
	return true
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) (float64, bool) {
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0, false
	}
	return num / den, true
}

// detect renews the verdict from the trend; sendDelta (ms) is how much
// send time the sample covered.
func (d *delayDetector) detect(trend, sendDelta float64, arrival int64) {
	switch {
	case d.deltas < 2:
		d.state = usageNormal
	case trend > d.threshold:
		if d.overTime < 0 {
			d.overTime = sendDelta / 2
		} else {
			d.overTime += sendDelta
		}
		d.overCount++
		if d.overTime > overuseTime && d.overCount > 1 && trend >= d.prevTrend {
			d.overTime, d.overCount = 0, 0
			d.state = usageOver
		}
	case trend < -d.threshold:
		d.overTime, d.overCount = -1, 0
		d.state = usageUnder
	default:
		d.overTime, d.overCount = -1, 0
		d.state = usageNormal
	}
	d.prevTrend = trend
	d.adapt(trend, arrival)
}

// adapt moves the threshold toward the trend's size.
func (d *delayDetector) adapt(trend float64, arrival int64) {
	if d.lastAdapt == 0 {
		d.lastAdapt = arrival
	}
	size := math.Abs(trend)
	if size > d.threshold+thresholdOutlier {
		d.lastAdapt = arrival
		return
	}
	k := thresholdKUp
	if size < d.threshold {
		k = thresholdKDown
	}
	dt := min(float64(arrival-d.lastAdapt)/1000, 100)
	d.threshold += k * (size - d.threshold) * dt
	d.threshold = min(max(d.threshold, thresholdMin), thresholdMax)
	d.lastAdapt = arrival
}
