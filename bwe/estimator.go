package bwe

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/confd/confd/rtpparse"
)

// Config bounds an Estimator, in bits per second.
type Config struct {
	// Initial is the estimate before any feedback.
	Initial int
	// Min and Max bound it.
	Min, Max int
}

// Estimator is one subscriber's send-side estimate. The packet path calls
// Stamp for each packet it numbers; the RTCP reader hands it what the
// subscriber sends (Feedback). Target, Congestion and Stats are safe from
// any goroutine.
type Estimator struct {
	cfg Config
	// hist is made by the first Start or Stamp: a PeerConnection that
	// sends no video (an audio-only member) never holds one.
	hist atomic.Pointer[history]

	// The feedback's state. onTarget is called with mu held, so it must
	// not call back into the Estimator's feedback path; it may take
	// other locks.
	mu       sync.Mutex
	scratch  []Arrival
	delay    delayDetector
	rate     rateControl
	loss     lossControl
	acked    ackedRate
	ref      int64 // the last feedback's reference time, unwrapped (64 ms)
	haveRef  bool
	last     Feedback // the last feedback taken in (when haveRef)
	onTarget func(int)
	told     bool // onTarget was told an estimate

	// What the estimate and the feedback say now, read without mu.
	target    atomic.Int64
	lossBits  atomic.Uint64 // math.Float64bits of the loss average
	overuse   atomic.Bool
	feedbacks atomic.Uint64
	refused   atomic.Uint64
	unknown   atomic.Uint64
}

// New makes an Estimator starting at cfg.Initial.
func New(cfg Config) *Estimator {
	cfg.Min = max(cfg.Min, 10_000)
	cfg.Max = max(cfg.Max, cfg.Min)
	cfg.Initial = min(max(cfg.Initial, cfg.Min), cfg.Max)
	e := &Estimator{cfg: cfg, delay: newDelayDetector()}
	e.rate.rate = float64(cfg.Initial)
	e.loss.rate = float64(cfg.Max)
	e.target.Store(int64(cfg.Initial))
	return e
}

// OnTarget sets the function told each new estimate (bits per second),
// the first with the first feedback. It is called on the goroutine that
// handed in the feedback, with the Estimator's feedback lock held.
func (e *Estimator) OnTarget(f func(int)) {
	e.mu.Lock()
	e.onTarget = f
	e.mu.Unlock()
}

// Start makes the history of sent packets (88 kB), if it is not made yet:
// call it when a stream that will be numbered binds, so that the packet
// path does not make it.
func (e *Estimator) Start() { e.history() }

func (e *Estimator) history() *history {
	if h := e.hist.Load(); h != nil {
		return h
	}
	e.hist.CompareAndSwap(nil, &history{})
	return e.hist.Load()
}

// Stamp numbers one packet about to be sent: it returns the two-octet
// transport-wide sequence number extension to put in its header, which
// stays valid until the next historySize packets. Sent records it.
// Neither locks nor allocates (after Start).
func (e *Estimator) Stamp() (seq uint16, ext []byte) { return e.history().take() }

// Sent records that packet seq, of size octets with its header, went at
// now (ns).
func (e *Estimator) Sent(seq uint16, size int, now int64) { e.history().sent(seq, size, now) }

// Target is the estimate, bits per second.
func (e *Estimator) Target() int { return int(e.target.Load()) }

// Congestion is the loss the last window of feedback showed (0 to 1) and
// whether the delay detector's latest verdict is overuse.
func (e *Estimator) Congestion() (loss float64, overuse bool) {
	return math.Float64frombits(e.lossBits.Load()), e.overuse.Load()
}

// Stats counts what the Estimator was given.
type Stats struct {
	// Feedbacks taken in, and refused as malformed.
	Feedbacks, Refused uint64
	// Unknown counts packets feedback reported on that the history did
	// not hold.
	Unknown uint64
}

// Stats returns the counts so far.
func (e *Estimator) Stats() Stats {
	return Stats{Feedbacks: e.feedbacks.Load(), Refused: e.refused.Load(), Unknown: e.unknown.Load()}
}

// RTCP takes in one compound RTCP packet from the subscriber at now (ns)
// and returns the first error of a feedback message in it; the packets
// that are not feedback are left to other readers.
func (e *Estimator) RTCP(b []byte, now int64) error {
	var first error
	for pkt, rest, ok := rtpparse.NextRTCP(b); ok; pkt, rest, ok = rtpparse.NextRTCP(rest) {
		if IsFeedback(pkt) {
			if err := e.Feedback(pkt, now); err != nil && first == nil {
				first = err
			}
		}
	}
	return first // a truncated compound is its own reader's to refuse
}

// Feedback takes in one feedback message at now (ns).
func (e *Estimator) Feedback(pkt []byte, now int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	fb, arrivals, err := ParseFeedback(pkt, e.scratch[:0])
	e.scratch = arrivals[:0]
	if err != nil {
		e.refused.Add(1)
		return err
	}
	// A compound RTCP packet reaches the reader of every SSRC it names,
	// so the feedback in it may be handed in twice.
	if e.haveRef && fb == e.last {
		return nil
	}
	e.last = fb
	e.feedbacks.Add(1)
	ref := e.unwrapRef(fb.Ref) * 64_000 // µs
	lost, late, total, unknown := 0, 0, 0, 0
	renewed := false
	hist := e.hist.Load()
	for _, a := range arrivals {
		if hist == nil {
			unknown++
			continue
		}
		sent, size, ok := hist.lookup(a.Seq)
		if !ok {
			unknown++
			continue
		}
		before := hist.report(a.Seq, a.Received)
		switch {
		case before == reportedReceived || (before == reportedLost && !a.Received):
			continue // said before, as a receiver re-reports a range
		case !a.Received:
			lost++
			total++
			continue
		case before == reportedLost:
			// It came after all, late: not a loss, and it counts as
			// received, but out of order for the delay detector.
			late++
			e.acked.add(ref+a.At, size)
			continue
		}
		total++
		at := ref + a.At
		e.acked.add(at, size)
		if e.delay.packet(sent/1000, at) {
			renewed = true
		}
	}
	if unknown > 0 {
		e.unknown.Add(uint64(unknown))
	}
	if total == 0 && late == 0 {
		return nil
	}
	acked := e.acked.rate()
	if renewed {
		e.rate.update(e.delay.state, acked, now)
		e.overuse.Store(e.delay.state == usageOver)
	}
	if e.loss.add(lost, late, total, e.rate.rate, now) {
		e.lossBits.Store(math.Float64bits(e.loss.average))
	}
	e.loss.rate = min(e.loss.rate, float64(e.cfg.Max))
	e.rate.rate = min(max(e.rate.rate, float64(e.cfg.Min)), float64(e.cfg.Max))
	target := int64(min(max(min(e.rate.rate, e.loss.rate), float64(e.cfg.Min)), float64(e.cfg.Max)))
	if e.target.Swap(target) != target || !e.told {
		if e.onTarget != nil {
			e.onTarget(int(target))
			e.told = true
		}
	}
	return nil
}

// unwrapRef extends a 24-bit reference time to a count that does not
// wrap: each is taken as the nearest to the one before.
func (e *Estimator) unwrapRef(ref uint32) int64 {
	if !e.haveRef {
		e.ref, e.haveRef = int64(ref), true
		return e.ref
	}
	d := (int64(ref) - e.ref) & (1<<24 - 1)
	if d >= 1<<23 {
		d -= 1 << 24
	}
	e.ref += d
	return e.ref
}
