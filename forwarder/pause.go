package forwarder

import (
	"sync"
	"time"
)

// PauseAfter is how long no slot may want a simulcast layer before the
// publisher is told to stop sending it. Long enough that a viewer resizing
// a tile, or a short dip of a viewer's bandwidth, does not cost the
// publisher an encoder restart and the viewers a key frame wait each time;
// short enough that an unwatched 720p layer stops wasting uplink soon.
const PauseAfter = 3 * time.Second

// resumeGrace is how long a layer that was asked to resume counts as
// available while nothing of it has arrived yet: the publisher needs a
// signalling round trip, an encoder restart, and a browser also enough of
// its own bandwidth estimate for the layer. Without the grace the slots
// would give up on it and it would be paused again at once.
const resumeGrace = 5 * time.Second

// demand collects which layers each slot of a Receiver wants and decides
// which layers the publisher should send.
type demand struct {
	mu      sync.Mutex
	perSlot map[Sink]uint32 // slots, and other sinks that asked (Want)
	p       pauser
	told    uint32 // the layers the publisher was last told to send
	// onChange receives the new set of layers to send (bit i: layer i).
	onChange func(active uint32)
}

// pauser is the pure state machine behind layer pausing. A layer is sent
// while some slot wants it, and for PauseAfter after the last one stopped;
// the smallest layer is always sent, so a new viewer or a slot that has
// to step down always finds something to show at once.
type pauser struct {
	known     uint32 // layers present at the last update
	active    uint32 // layers the publisher is asked to send
	idleSince [MaxLayers]int64
	resumedAt [MaxLayers]int64
}

// update takes the layers present and wanted at now and returns the
// layers to send and whether that changed.
func (p *pauser) update(now int64, present, wanted uint32) (uint32, bool) {
	next := p.active&present | present&^p.known // a new layer starts active
	lowest := present & -present
	for i := range MaxLayers {
		bit := uint32(1) << i
		switch {
		case present&bit == 0:
		case wanted&bit != 0 || bit == lowest:
			if next&bit == 0 {
				p.resumedAt[i] = now
			}
			next |= bit
			p.idleSince[i] = 0
		case p.idleSince[i] == 0:
			p.idleSince[i] = now
		case now-p.idleSince[i] >= int64(PauseAfter):
			next &^= bit
		}
	}
	changed := next != p.active
	p.active, p.known = next, present
	return next, changed
}

// paused reports whether layer i is paused by confd (the publisher was
// told to stop it).
func (p *pauser) paused(i int) bool {
	return p.known&(1<<i) != 0 && p.active&(1<<i) == 0
}

// resuming reports whether layer i was asked to resume within the grace.
func (p *pauser) resuming(i int, now int64) bool {
	return p.resumedAt[i] != 0 && now-p.resumedAt[i] < int64(resumeGrace)
}

// setDemand records the layers slot d wants (its selector's current and
// target layers) and wakes the Receiver's control goroutine when the
// union grows: a layer asked for must resume without waiting for a tick.
func (r *Receiver) setDemand(d Sink, wanted uint32) {
	r.demand.mu.Lock()
	if r.demand.perSlot == nil {
		r.demand.perSlot = map[Sink]uint32{}
	}
	old := r.demand.perSlot[d]
	r.demand.perSlot[d] = wanted
	wake := wanted&^old != 0 && wanted&r.demand.p.known&^r.demand.p.active != 0
	r.demand.mu.Unlock()
	if wake {
		select {
		case r.demandSignal <- struct{}{}:
		default:
		}
	}
}

// dropDemand forgets slot d.
func (r *Receiver) dropDemand(d Sink) {
	r.demand.mu.Lock()
	delete(r.demand.perSlot, d)
	r.demand.mu.Unlock()
}

// Want records that sink s, which is not a slot (a recorder), wants the
// layers in mask (bit i: layer i) sent: they count as a slot's do, so
// none of them is paused while s wants it, and a paused one resumes. A
// zero mask forgets s.
func (r *Receiver) Want(s Sink, mask uint32) {
	if mask == 0 {
		r.dropDemand(s)
		return
	}
	r.setDemand(s, mask)
}

// OnActiveLayers sets the function told, from the Receiver's control
// goroutine, which layers (RIDs, smallest first) the publisher should
// send whenever that changes. Set it before the first AddLayer.
func (r *Receiver) OnActiveLayers(f func(rids []string)) {
	r.demand.mu.Lock()
	defer r.demand.mu.Unlock()
	r.demand.onChange = func(active uint32) {
		var rids []string
		for i := range MaxLayers {
			if l := r.layers[i].Load(); l != nil && active&(1<<i) != 0 {
				rids = append(rids, l.rid)
			}
		}
		f(rids)
	}
}

// updateDemand re-evaluates which layers to send at now and reports a
// change. It runs on the control goroutine (or a test).
func (r *Receiver) updateDemand(now int64) {
	var present uint32
	for i := range MaxLayers {
		if r.layers[i].Load() != nil {
			present |= 1 << i
		}
	}
	r.demand.mu.Lock()
	var wanted uint32
	for _, w := range r.demand.perSlot {
		wanted |= w
	}
	active, changed := r.demand.p.update(now, present, wanted)
	// The publisher sends every layer until told otherwise: it hears of
	// the layers only once one is paused, and of every change after.
	tell := changed && present&(present-1) != 0 && (active != present || r.demand.told != 0)
	if tell {
		r.demand.told = active
	}
	notify := r.demand.onChange
	r.demand.mu.Unlock()
	if tell && notify != nil {
		notify(active)
	}
}

// availability fills in which layers confd paused and which may be
// chosen: sending, paused (it resumes when chosen), resuming, or new (a
// layer is added when its first packet is about to arrive).
func (r *Receiver) availability(infos []LayerInfo, now int64) {
	r.demand.mu.Lock()
	defer r.demand.mu.Unlock()
	for i := range infos {
		idx := infos[i].Index
		infos[i].Paused = r.demand.p.paused(idx)
		infos[i].Available = infos[i].Active || infos[i].Paused || infos[i].Packets == 0 || r.demand.p.resuming(idx, now)
	}
}
