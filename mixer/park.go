package mixer

// A silent room parks its mixer. While nobody sends audio and every
// listener can take DTX, a tick would only decide, member by member, to
// send nothing: the clock then sleeps until the next DTX keep-alive instead
// of waking 50 times a second, and the ticks that passed are accounted for
// at once (silentTicks) when it wakes. An idle room so wakes its mixer 2.5
// times a second.
//
// The keep-alives of all listeners fall on the same ticks (every
// DTXKeepalive-th of the room's count, see skipSilent), so that one wake-up
// serves them all. A packet pushed into any input, a member added or
// removed, or a tap set, ends the park: the ticks up to now are silent,
// and the next one on the room's 20 ms grid mixes as usual.

// silentRoom reports whether the next tick would send nothing but DTX
// keep-alives, whatever the clock, as long as no input receives a packet:
// no speaker, every listener takes DTX and has had its first silent frame,
// every input's voice activity has settled on silence. The inputs' own
// buffers are checked by park. An echo test parks only while empty.
func (m *Mixer) silentRoom(members []*Member) bool {
	if m.cfg.EchoDelay > 0 {
		return len(members) == 0 // an echo test plays every frame back; an empty one nothing
	}
	if m.tap.Load() != nil || len(m.sel.speakers) > 0 {
		return false
	}
	for _, mb := range members {
		if w := mb.opts.Writer; w != nil {
			if _, ok := w.(DTXWriter); !ok || mb.silent == 0 {
				return false
			}
		}
		if mb.jb != nil && (mb.vad.talking || mb.vad.score > 0) {
			return false
		}
	}
	return true
}

// park says whether the mixer may sleep past the next tick, and if so marks
// it parked. The flag is raised before the inputs are looked at, and Push
// looks at it after buffering its packet: either the packet is seen here,
// or Push sees the flag and wakes the mixer.
func (m *Mixer) park() bool {
	members := *m.members.Load()
	if !m.silentRoom(members) {
		return false
	}
	select {
	case <-m.resume: // a stale wake-up from before: the inputs are checked below
	default:
	}
	m.parked.Store(true)
	for _, mb := range members {
		if mb.jb != nil && !mb.inputIdle() {
			m.parked.Store(false)
			return false
		}
	}
	return true
}

// unpark wakes a parked mixer; it never blocks.
func (m *Mixer) unpark() {
	if !m.parked.Load() {
		return
	}
	select {
	case m.resume <- struct{}{}:
	default: // already woken
	}
}

// silentTicks accounts for n ticks of a parked room: each listener's frame
// is skipped, or sent when it is a keep-alive. It returns n.
func (m *Mixer) silentTicks(n int64) int64 {
	members := *m.members.Load()
	for range n {
		m.seq++
		for _, mb := range members {
			if w := mb.opts.Writer; w != nil {
				m.deliverSilence(mb, w)
			}
		}
	}
	m.ticks.Add(uint64(n))
	m.parkedTicks.Add(uint64(n))
	return n
}

// untilKeepalive is how many ticks from now the next DTX keep-alive falls.
func (m *Mixer) untilKeepalive() int64 {
	return DTXKeepalive - m.seq%DTXKeepalive
}
