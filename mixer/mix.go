package mixer

// output is one encoded stream shared by every listener who hears the same
// thing: the full mix in one codec at one volume, or silence.
type output struct {
	codec   Codec
	volume  int32
	enc     Encoder
	lim     limiter
	pcm     [FrameSamples]int16
	payload [MaxPayload]byte
	n       int
	ready   bool // encoded this tick
}

// mixOnce is one 20 ms tick: take a frame from every input, pick the
// speakers, sum them, and send every listener its mix.
func (m *Mixer) mixOnce(now int64) {
	began := Now()
	m.ticks.Add(1)
	m.seq++
	members := *m.members.Load()
	m.forgetRemoved()
	tap := loadTap(&m.tap)
	if m.cfg.EchoDelay > 0 {
		m.echoOnce(members, now, tap)
		return
	}
	for _, mb := range members {
		m.listen(mb, now, tap)
	}
	m.sel.update(members)
	m.sumSpeakers()
	m.resetOutputs()
	if tap != nil {
		if mix := m.sharedMix(CodecOpus, 0); mix != nil {
			tap.Mix(now, mix)
		}
	}
	for _, mb := range members {
		m.deliver(mb)
	}
	m.recordLatency(now, Now()-began)
}

// recordLatency notes, for each speaker's frame mixed this tick, the time
// from its packet's arrival to the moment every listener had its frame:
// the jitter buffer's delay, the wait for the tick, and the tick's work.
func (m *Mixer) recordLatency(now, work int64) {
	for _, sp := range m.sel.speakers {
		if sp.frame.Status == FramePlay {
			m.latency.record(now - sp.frame.Arrival + work)
		}
	}
}

func (m *Mixer) forgetRemoved() {
	for {
		select {
		case mb := <-m.gone:
			m.sel.forget(mb)
		default:
			return
		}
	}
}

// listen pops the member's frame and updates its voice activity. A frame is
// decoded now only when its loudness must be measured (no RFC 6464 level);
// the speakers' frames are decoded in sumSpeakers.
func (m *Mixer) listen(mb *Member, now int64, tap Tap) {
	mb.decoded = false
	if mb.jb == nil {
		return
	}
	status, level := mb.takeFrame(now)
	if tap != nil {
		tap.Input(now, mb.id, mb.opts.In, status, mb.frame.Payload, mb.mixable())
	}
	score := 0
	switch {
	case !mb.mixable():
	case status == FramePlay && level >= 0:
		score = levelScore(level)
	case status == FramePlay:
		m.decode(mb)
		score = pcmScore(mb.pcm[:])
	case status == FrameMissing:
		score = mb.vad.score // a lost packet is no reason to stop talking
	}
	if !mb.vad.update(score) {
		return
	}
	st := uint32(mb.vad.score) << 1
	if mb.vad.talking {
		st |= 1
	}
	mb.talk.Store(st)
	mb.talkDue.Store(true)
	m.poke()
	if tap != nil {
		tap.Talking(now, mb.id, mb.vad.talking)
	}
}

// decode fills mb.pcm from this tick's frame: the packet, its recovery from
// the next packet's FEC, concealment, or silence.
func (m *Mixer) decode(mb *Member) {
	if mb.decoded {
		return
	}
	mb.decoded = true
	var err error
	switch mb.frame.Status {
	case FramePlay:
		_, err = mb.dec.Decode(mb.frame.Payload, mb.pcm[:])
	case FrameMissing:
		if _, ok := mb.dec.Recover(mb.frame.Next, mb.pcm[:]); !ok {
			_, err = mb.dec.Conceal(mb.pcm[:])
		}
	default:
		clear(mb.pcm[:])
	}
	if err != nil {
		clear(mb.pcm[:])
	}
}

// sumSpeakers adds the speakers' voices, each at its input gain, into the
// unclipped int32 sum.
func (m *Mixer) sumSpeakers() {
	clear(m.sum[:])
	for _, sp := range m.sel.speakers {
		m.decode(sp)
		g := levelGain(sp.gain.Load())
		for i, s := range sp.pcm {
			m.sum[i] += int32(s) * g >> 8
		}
	}
	if f := m.sel.floor; f != nil && f.id != m.lastFloor {
		m.lastFloor = f.id
		m.floorID.Store(int64(f.id))
		m.floorDue.Store(true)
		m.poke()
	}
}

// resetOutputs marks the shared mixes stale for the new tick. Silence is
// encoded once and resent: every listener's decoder takes the same frame.
func (m *Mixer) resetOutputs() {
	for _, o := range m.shared {
		o.ready = false
	}
}

// deliver sends the member its frame: silence when deaf or on hold or when
// nobody else speaks, its own mix-minus when it speaks, otherwise the
// shared mix for its codec and volume.
func (m *Mixer) deliver(mb *Member) {
	w := mb.opts.Writer
	if w == nil {
		return
	}
	var payload []byte
	switch {
	case mb.deaf.Load() || mb.held.Load() || m.aloneIn(mb):
		m.deliverSilence(mb, w)
		return
	case m.sel.isSpeaker(mb):
		mb.silent = 0
		payload = m.mixMinus(mb)
	default:
		mb.silent = 0
		payload = m.sharedMix(mb.opts.Out, mb.volume.Load())
	}
	m.write(w, payload)
}

// deliverSilence gives a listener who hears silence this tick's frame: a
// DTX listener nothing but the first of a silence and the keep-alives
// (skipSilent), any other the encoded silent frame. A parked mixer's
// silent ticks (park.go) come here too.
func (m *Mixer) deliverSilence(mb *Member, w PacketWriter) {
	if dw, ok := w.(DTXWriter); ok && m.skipSilent(mb) {
		dw.SkipFrame()
		return
	}
	m.write(w, m.silence(mb.opts.Out))
}

// write sends one frame, counting a failure; nil (an encoder error) is
// not sent.
func (m *Mixer) write(w PacketWriter, payload []byte) {
	if payload == nil {
		return
	}
	if err := w.WriteFrame(payload); err != nil {
		m.writeErrors.Add(1)
	}
}

// skipSilent counts one more silent frame for mb and says whether it is
// left out: all but the first of a silence and one every DTXKeepalive of
// the room's ticks, the same ticks for every listener so that a parked
// mixer wakes once for all of their keep-alives.
func (m *Mixer) skipSilent(mb *Member) bool {
	mb.silent++
	if mb.silent == 1 || m.seq%DTXKeepalive == 0 {
		return false
	}
	m.dtxSkips.Add(1)
	return true
}

// aloneIn: nobody but the member itself speaks, so it hears silence and
// nothing needs mixing.
func (m *Mixer) aloneIn(mb *Member) bool {
	n := len(m.sel.speakers)
	return n == 0 || (n == 1 && m.sel.speakers[0] == mb)
}

// mixMinus encodes the sum without the speaker's own voice, taken from the
// unclipped sum so that the subtraction is exact.
func (m *Mixer) mixMinus(sp *Member) []byte {
	g := levelGain(sp.gain.Load())
	for i, s := range sp.pcm {
		m.minus[i] = m.sum[i] - int32(s)*g>>8
	}
	sp.lim.apply(m.scratch[:], m.minus[:], levelGain(sp.volume.Load()), m.env[:])
	n, err := sp.enc.Encode(m.scratch[:], sp.encoded[:])
	m.encodes.Add(1)
	if err != nil {
		return nil
	}
	return sp.encoded[:n]
}

// sharedMix encodes the full mix once per tick for each codec and volume.
func (m *Mixer) sharedMix(c Codec, volume int32) []byte {
	o := m.sharedOutput(c, volume)
	if o == nil {
		return nil
	}
	if !o.ready {
		o.lim.apply(o.pcm[:], m.sum[:], levelGain(volume), m.env[:])
		o.encode(m)
	}
	return o.payload[:o.n]
}

func (m *Mixer) sharedOutput(c Codec, volume int32) *output {
	for _, o := range m.shared {
		if o.codec == c && o.volume == volume {
			return o
		}
	}
	enc, err := m.newEncoder(c)
	if err != nil {
		return nil
	}
	o := &output{codec: c, volume: volume, enc: enc}
	o.lim.reset()
	m.shared = append(m.shared, o)
	return o
}

// silence is an encoded silent frame per codec, made once.
func (m *Mixer) silence(c Codec) []byte {
	o := m.silent[c]
	if o == nil {
		enc, err := m.newEncoder(c)
		if err != nil {
			return nil
		}
		o = &output{codec: c, enc: enc}
		m.silent[c] = o
	}
	if !o.ready {
		o.encode(m)
	}
	return o.payload[:o.n]
}

func (o *output) encode(m *Mixer) {
	n, err := o.enc.Encode(o.pcm[:], o.payload[:])
	m.encodes.Add(1)
	o.ready = true
	if err != nil {
		n = 0
	}
	o.n = n
}
