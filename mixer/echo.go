package mixer

import "time"

// The echo test: a mixer with Config.EchoDelay plays each member's own
// voice back to it that much later, and mixes nothing. Each tick a member
// with an input has its frame decoded (or concealed, or silence while it
// is muted or on hold) into its delay line, and the frame that went in
// EchoDelay ago comes out, through the member's own encoder: one decode
// and one encode per member, as a speaker's mix-minus costs.

// echoLine is one member's delay: a ring of decoded frames, allocated
// when the member is added.
type echoLine struct {
	frames [][FrameSamples]int16
	next   int // the oldest frame, written over after it is played
}

func newEchoLine(delay time.Duration) *echoLine {
	n := max(1, int(delay/(FrameMillis*time.Millisecond)))
	return &echoLine{frames: make([][FrameSamples]int16, n)}
}

// swap plays the oldest frame into out and keeps in in its place.
func (e *echoLine) swap(in []int16, out []int32) {
	f := &e.frames[e.next]
	for i, s := range f {
		out[i] = int32(s)
	}
	copy(f[:], in)
	e.next = (e.next + 1) % len(e.frames)
}

// echoOnce is the echo test's tick.
func (m *Mixer) echoOnce(members []*Member, now int64, tap Tap) {
	for _, mb := range members {
		if mb.echo == nil {
			continue
		}
		m.echoIn(mb, now, tap)
		m.echoOut(mb)
	}
}

// echoIn takes the member's frame of this tick into m.scratch: its voice,
// or silence while it is kept out (muted, held) or sends nothing.
func (m *Mixer) echoIn(mb *Member, now int64, tap Tap) {
	clear(m.scratch[:])
	if mb.jb == nil {
		return
	}
	status, _ := mb.takeFrame(now)
	if tap != nil {
		tap.Input(now, mb.id, mb.opts.In, status, mb.frame.Payload, mb.mixable())
	}
	if !mb.mixable() || status == FrameSilent {
		return
	}
	mb.decoded = false
	m.decode(mb)
	copy(m.scratch[:], mb.pcm[:])
}

// echoOut sends the member what it said EchoDelay ago, at its volume.
func (m *Mixer) echoOut(mb *Member) {
	mb.echo.swap(m.scratch[:], m.minus[:])
	w := mb.opts.Writer
	if w == nil {
		return
	}
	var payload []byte
	if mb.deaf.Load() || mb.held.Load() {
		payload = m.silence(mb.opts.Out)
	} else {
		mb.lim.apply(m.scratch[:], m.minus[:], levelGain(mb.volume.Load()), m.env[:])
		n, err := mb.enc.Encode(m.scratch[:], mb.encoded[:])
		m.encodes.Add(1)
		if err == nil {
			payload = mb.encoded[:n]
		}
	}
	m.write(w, payload)
}
