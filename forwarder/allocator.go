package forwarder

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
)

// AllocatorConfig tunes an Allocator; zero fields take the defaults.
type AllocatorConfig struct {
	// Interval between two allocations when nothing asks for one sooner
	// (default 500 ms): the pace of stepping up.
	Interval time.Duration
	// UpHold is how long after a step down for bandwidth no slot may step
	// up (default 4 s). An estimate that just fell is likely to wobble;
	// climbing back at once would switch layers back and forth, and every
	// spatial switch costs a key frame.
	UpHold time.Duration
	// Headroom is how much the estimate must exceed the new total before a
	// step up (default 1.2): a step down happens as soon as the total no
	// longer fits, so without a gap between the two thresholds an
	// estimate near a layer's bitrate would flip it every interval.
	Headroom float64
	// Reserve is the part of the estimate kept for audio and RTCP (default
	// 64 kbit/s: one Opus stream and its overheads).
	Reserve int
	// ProbeTime is how long a bandwidth probe pads (default 1.5 s): long
	// enough for several rounds of transport feedback to report on it.
	ProbeTime time.Duration
	// Congestion, when set, reports the loss the subscriber's transport
	// feedback shows; it is called from the allocator's goroutine.
	Congestion func() Congestion
	Log        *zap.Logger
}

// Congestion is what the subscriber's feedback says of the path now.
type Congestion struct {
	// Loss is the fraction of packets recently lost (0 to 1).
	Loss float64
	// Overuse is true when the delay detector's latest verdict on the
	// feedback is overuse: packets arrive further apart than they were
	// sent (steady.go).
	Overuse bool
}

func (c AllocatorConfig) withDefaults() AllocatorConfig {
	if c.Interval <= 0 {
		c.Interval = 500 * time.Millisecond
	}
	if c.UpHold <= 0 {
		c.UpHold = 4 * time.Second
	}
	if c.Headroom < 1 {
		c.Headroom = 1.2
	}
	if c.Reserve <= 0 {
		c.Reserve = 64_000
	}
	if c.ProbeTime <= 0 {
		c.ProbeTime = 1500 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	return c
}

// Allocator divides one subscriber's downlink estimate among its slots
// (its DownTracks) and sets each slot's layer. It steps down at once when
// the slots no longer fit because the estimate fell, a moment later when
// their measured cost outgrew it by more than costMargin, and steps up
// only after UpHold and with Headroom to spare.
type Allocator struct {
	cfg  AllocatorConfig
	kick chan struct{}

	mu       sync.Mutex
	slots    []*DownTrack
	prio     []int   // per slot: lower is more important
	bwe      int     // send-side estimate (TWCC), bits per second; 0: none
	remb     int     // the subscriber's REMB, bits per second; 0: none
	cur      []Layer // the last choice per slot
	lastDown int64   // when the last step down for bandwidth happened
	// fitEst is the estimate at the last allocation the slots fitted (0:
	// none, or no limit since). over is true while their cost exceeds the
	// budget beyond costMargin, as it has since overSince.
	fitEst    int
	over      bool
	overSince int64
	sent      sendMeter
	probe     prober
	steady    steadyState
}

// A step down for bandwidth must have a cause the feedback shows, not one
// the cost measurement made up. The estimate comes from what the
// subscriber's feedback says of the packets actually sent (loss, rising
// delay, confd's congestion measurement); a layer's cost is a measurement
// too, and for all its smoothing (costWindow) it still moves by a few
// percent as frames of different sizes come and go. So:
//   - when the slots no longer fit because the estimate fell (by more than
//     estimateSlack since they last fitted), they step down in that
//     allocation, as they always did;
//   - while the estimate holds, a cost over the budget by less than
//     costMargin is left alone: if that is too much for the link, its
//     loss or delay lowers the estimate, and that acts at once;
//   - a cost beyond the margin steps them down when a second allocation,
//     at least costPersist later, still sees it, as a cost that grew for
//     real (the publisher's encoder climbed) does.
const (
	// costMargin is a key frame of a browser's VP8 encoder in a
	// costWindow (five to ten delta frames' worth among 120), with room to
	// spare; it is under the Headroom a step up leaves.
	costMargin = 0.1
	// estimateSlack is under every fall that signals congestion: GCC's
	// delay controller takes the estimate to 85 % of the rate received,
	// its loss controller down by at least 5 %, confd's congestion
	// measurement to what the path carried. GCC's increase is capped by
	// 1.5 times the rate received and wobbles with it by a percent or two.
	estimateSlack = 0.03
	// costPersist is the interval a cost measurement is renewed at: a
	// second allocation this much later looks at a new one.
	costPersist = rateWindow / 2
)

// NewAllocator makes an Allocator; Run drives it.
func NewAllocator(cfg AllocatorConfig) *Allocator {
	return &Allocator{cfg: cfg.withDefaults(), kick: make(chan struct{}, 1), lastDown: -1 << 62}
}

// SetSlots sets the subscriber's slots, in slot order. Their priority is
// their order until SetPriorities says otherwise.
func (a *Allocator) SetSlots(dts []*DownTrack) {
	a.mu.Lock()
	a.slots = slices.Clone(dts)
	a.prio = make([]int, len(dts))
	a.cur = make([]Layer, len(dts))
	for i := range dts {
		a.prio[i] = i
		a.cur[i] = Paused
	}
	a.mu.Unlock()
	for _, dt := range dts {
		dt.mu.Lock()
		dt.alloc = a
		dt.mu.Unlock()
	}
	a.Kick()
}

// SetPriorities sets each slot's priority (lower first; the floor's slot
// lowest, then the most recent speakers). A slice of the wrong length is
// ignored.
func (a *Allocator) SetPriorities(prio []int) {
	a.mu.Lock()
	if len(prio) == len(a.prio) {
		copy(a.prio, prio)
	}
	a.mu.Unlock()
	a.Kick()
}

// SetEstimate sets the send-side estimate of the subscriber's downlink in
// bits per second (0: none), from its transport-wide CC feedback. A lower
// estimate is acted on at once.
func (a *Allocator) SetEstimate(bps int) {
	a.set(&a.bwe, bps)
}

// SetREMB sets the estimate the subscriber reported itself (RTCP REMB,
// draft-alvestrand-rmcat-remb), bits per second.
func (a *Allocator) SetREMB(bps int) {
	a.set(&a.remb, bps)
}

func (a *Allocator) set(field *int, bps int) {
	a.mu.Lock()
	before := a.estimateLocked()
	*field = max(bps, 0)
	after := a.estimateLocked()
	a.mu.Unlock()
	if after > 0 && (before == 0 || after < before) {
		a.Kick()
	}
}

// estimateLocked is the lower of the known estimates, 0 when none is.
func (a *Allocator) estimateLocked() int {
	switch {
	case a.bwe == 0:
		return a.remb
	case a.remb == 0:
		return a.bwe
	}
	return min(a.bwe, a.remb)
}

// Estimate is the downlink estimate in use (0: none, no limit).
func (a *Allocator) Estimate() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.estimateLocked()
}

// Kick asks for an allocation now. It never blocks; a nil Allocator
// ignores it.
func (a *Allocator) Kick() {
	if a == nil {
		return
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Run allocates every Interval and when kicked, until stop is closed.
// While the subscriber has no slots (an audio-only member, a listener) it
// only waits for a kick: SetSlots kicks it, and nothing else is to be
// shared, so an idle member costs no wake-ups.
func (a *Allocator) Run(stop <-chan struct{}) {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		a.Step(time.Now().UnixNano())
		var tick <-chan time.Time
		if a.hasSlots() {
			tick = t.C
		}
		select {
		case <-stop:
			return
		case <-tick:
		case <-a.kick:
		}
	}
}

func (a *Allocator) hasSlots() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.slots) > 0
}

// slotInput is what one allocation knows of a slot.
type slotInput struct {
	index int
	d     demandOf
}

// Step runs one allocation at now and sets the slots' layers.
func (a *Allocator) Step(now int64) {
	a.mu.Lock()
	slots, prio := slices.Clone(a.slots), slices.Clone(a.prio)
	a.mu.Unlock()
	var cong Congestion
	if a.cfg.Congestion != nil {
		cong = a.cfg.Congestion()
	}
	if rr, ok := receiverLoss(slots, now); ok {
		cong.Loss = min(cong.Loss, rr) // see rrFresh
	}
	sent := sentBytes(slots)
	in := make([]slotInput, len(slots))
	for i, dt := range slots {
		in[i] = slotInput{index: i, d: dt.demand()}
	}
	slices.SortStableFunc(in, func(x, y slotInput) int { return cmp.Compare(prio[x.index], prio[y.index]) })
	a.mu.Lock()
	if len(a.cur) != len(slots) {
		a.mu.Unlock()
		return // SetSlots ran meanwhile; it kicked another round
	}
	pads := a.stepLocked(now, cong, sent, in, slots)
	chosen := slices.Clone(a.cur)
	a.mu.Unlock()
	for i, dt := range slots {
		dt.setLimit(chosen[i])
	}
	for _, p := range pads {
		p.slot.SetPadding(p.bps)
	}
}

// stepLocked is one allocation of slots, whose demands in gives in
// priority order, given the feedback and the bytes the slots have sent.
// It sets a.cur and returns the padding changes to make once a.mu is
// released.
func (a *Allocator) stepLocked(now int64, cong Congestion, sent int64, in []slotInput, slots []*DownTrack) []padOrder {
	demands := make([]demandOf, len(in))
	order := make([]*DownTrack, len(in))
	cur := make([]int, len(in))
	for i, s := range in {
		demands[i] = s.d
		order[i] = slots[s.index]
		cur[i] = rungIndex(s.d.rungs, a.cur[s.index])
	}
	if len(demands) > 0 {
		demands[0].floor = true
	}
	sending := a.sent.rate(now, sent)
	a.observeLocked(now, cong, sending)
	a.steadyLocked(now, a.bwe, cong)
	// A probe that is over is judged before deciding, so that the rate it
	// verified is stepped up to now rather than one Interval later.
	var pads []padOrder
	ended := a.probeOverLocked(now)
	if ended {
		pads = a.endProbeLocked(now, sent)
	}
	est := a.effectiveLocked()
	next := a.decide(now, est, demands, cur)
	if !ended {
		pads = a.probeLocked(now, est, sending, sent, demands, next, order)
	}
	for i, s := range in {
		prev := a.cur[s.index]
		a.cur[s.index] = Paused
		if next[i] >= 0 {
			a.cur[s.index] = s.d.rungs[next[i]].layer
		}
		if a.cur[s.index] != prev {
			a.cfg.Log.Debug("slot layer", zap.Int("slot", s.index), zap.Int("estimate", est),
				zap.Int("spatial", a.cur[s.index].Spatial), zap.Int("temporal", a.cur[s.index].Temporal),
				zap.Int("bitrate", rate(s.d, next[i])))
		}
	}
	return pads
}

// decide picks each slot's rung (slots in priority order, cur the rungs
// they have, -1 for none). Guarded by a.mu.
func (a *Allocator) decide(now int64, estimate int, slots []demandOf, cur []int) []int {
	next := make([]int, len(slots))
	if estimate <= 0 {
		a.fitEst, a.over = 0, false // the next estimate is a fall from no limit
		for i, s := range slots {
			next[i] = len(s.rungs) - 1
		}
		return next
	}
	budget := estimate - a.cfg.Reserve
	ideal := allocate(budget, slots)
	added := false
	for i, s := range slots {
		switch {
		case cur[i] < 0:
			next[i] = ideal[i] // a new slot starts with what fits now
			added = added || ideal[i] >= 0
		default:
			next[i] = min(cur[i], len(s.rungs)-1) // a smaller slot steps down at once
		}
	}
	if total := allocTotal(slots, next); total > budget {
		// A slot that starts took its share of a fresh allocation, which
		// counts on the others taking theirs: they do at once.
		if !added && !a.overBudgetLocked(now, estimate, total, budget) {
			return next // measurement noise: neither down nor up
		}
		// Step down fast: every slot takes at most what a fresh
		// allocation gives it. Only a slot that actually went down
		// restarts UpHold: a floor slot already on its cheapest rung,
		// over a budget that does not pay even for that, must not hold
		// every probe off for good.
		a.fitEst, a.over = estimate, false // the slots are fitted to it now
		for i := range next {
			if ideal[i] < next[i] {
				next[i] = ideal[i]
				a.lastDown = now
			}
		}
		return next
	}
	a.fitEst, a.over = estimate, false
	if a.holdingLocked(now) {
		return next
	}
	a.stepUp(slots, next, float64(budget)/a.cfg.Headroom)
	return next
}

// An allocation counts as on time for what falls due up to
// Interval/tickSlack after it (UpHold ending, a probe's ProbeTime).
// Allocations follow a ticker, each a few milliseconds after its tick: a
// wait that began in one ends a few milliseconds after the tick the wait's
// length later, and would otherwise last another Interval.
const tickSlack = 10

// holdingLocked reports whether UpHold since the last step down is still
// running at now.
func (a *Allocator) holdingLocked(now int64) bool {
	return now-a.lastDown < int64(a.cfg.UpHold-a.cfg.Interval/tickSlack)
}

// overBudgetLocked reports whether slots that cost total, over budget
// from estimate, must step down now (see costMargin).
func (a *Allocator) overBudgetLocked(now int64, estimate, total, budget int) bool {
	if a.fitEst == 0 || float64(estimate) < float64(a.fitEst)*(1-estimateSlack) {
		return true // the estimate fell, or appeared where there was none
	}
	if float64(total) <= float64(budget)*(1+costMargin) {
		a.over = false
		return false
	}
	if !a.over {
		a.over, a.overSince = true, now
		return false
	}
	return now-a.overSince >= int64(costPersist)
}

// stepUp raises slots, in priority order, to the best rung that keeps the
// total within limit.
func (a *Allocator) stepUp(slots []demandOf, next []int, limit float64) {
	sum := allocTotal(slots, next)
	for i, s := range slots {
		for r := len(s.rungs) - 1; r > next[i]; r-- {
			if float64(sum-rate(s, next[i])+s.rungs[r].bitrate) <= limit {
				sum += s.rungs[r].bitrate - rate(s, next[i])
				next[i] = r
				break
			}
		}
	}
}

func rate(s demandOf, r int) int {
	if r < 0 {
		return 0
	}
	return s.rungs[r].bitrate
}

func allocTotal(slots []demandOf, choice []int) int {
	sum := 0
	for i, s := range slots {
		sum += rate(s, choice[i])
	}
	return sum
}

// rungIndex finds l in rungs: the highest rung at or below it, -1 when l
// is Paused or below every rung.
func rungIndex(rungs []rung, l Layer) int {
	if l.Spatial < 0 {
		return -1
	}
	idx := -1
	for i, r := range rungs {
		if r.layer.Spatial < l.Spatial || (r.layer.Spatial == l.Spatial && r.layer.Temporal <= l.Temporal) {
			idx = i
		}
	}
	return idx
}

// demand is the slot as the allocator sees it: the ladder of its source's
// layers up to the size it is shown at.
func (d *DownTrack) demand() demandOf {
	d.mu.Lock()
	src, w, h := d.src, d.width, d.height
	d.mu.Unlock()
	if src == nil {
		return demandOf{}
	}
	return demandOf{rungs: ladder(src.Layers(), w, h)}
}
