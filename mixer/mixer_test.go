package mixer

import (
	"fmt"
	"testing"
)

// exactCodec is a lossless stand-in for a real codec, so that tests can
// check the mix sample by sample: a payload names a waveform
// (amplitude, period) and an encoder records the PCM it was given.
type exactCodec struct {
	encoders []*recordingEncoder
}

type patternDecoder struct{}

// pattern is the waveform a payload {amp, period} decodes to.
func pattern(amp, period int, pcm []int16) {
	for i := range pcm {
		pcm[i] = int16(amp * ((i % period) - period/2))
	}
}

func (patternDecoder) Decode(p []byte, pcm []int16) (int, error) {
	pattern(int(p[0]), int(p[1]), pcm)
	return len(pcm), nil
}

func (patternDecoder) Conceal(pcm []int16) (int, error) {
	clear(pcm)
	return len(pcm), nil
}

func (patternDecoder) Recover([]byte, []int16) (int, bool) { return 0, false }

type recordingEncoder struct {
	id  byte
	pcm [FrameSamples]int16
}

func (e *recordingEncoder) Encode(pcm []int16, payload []byte) (int, error) {
	copy(e.pcm[:], pcm)
	payload[0] = e.id
	return 1, nil
}

func (c *exactCodec) install(m *Mixer) {
	m.newDecoder = func(Codec) (Decoder, error) { return patternDecoder{}, nil }
	m.newEncoder = func(Codec) (Encoder, error) {
		e := &recordingEncoder{id: byte(len(c.encoders))}
		c.encoders = append(c.encoders, e)
		return e, nil
	}
}

// heard is what one listener got this tick, decoded through the recorder.
type heard struct {
	c    *exactCodec
	last []int16
}

func (h *heard) WriteFrame(p []byte) error {
	h.last = h.c.encoders[p[0]].pcm[:]
	return nil
}

// talker is a test member that sends a waveform every tick.
type talker struct {
	mb       *Member
	amp, per int
	level    int
	ear      *heard
	seq      uint16
	ts       uint32
}

func (tk *talker) push(now int64) {
	if tk.amp > 0 {
		tk.mb.Push(tk.seq, tk.ts, []byte{byte(tk.amp), byte(tk.per)}, tk.level, now)
	} else {
		tk.mb.Push(tk.seq, tk.ts, []byte{0, 2}, 127, now)
	}
	tk.seq++
	tk.ts += FrameSamples
}

type room struct {
	t  *testing.T
	m  *Mixer
	c  *exactCodec
	ts []*talker
	n  int64
}

func newTestRoom(t *testing.T, speakers int) *room {
	r := &room{t: t, m: New(Config{Speakers: speakers}), c: &exactCodec{}}
	r.c.install(r.m)
	return r
}

func (r *room) add(amp, per int) *talker {
	ear := &heard{c: r.c}
	mb, err := r.m.Add(len(r.ts)+1, MemberOptions{In: CodecOpus, HasInput: true, Out: CodecOpus, Writer: ear})
	if err != nil {
		r.t.Fatal(err)
	}
	tk := &talker{mb: mb, amp: amp, per: per, level: 10, ear: ear}
	r.ts = append(r.ts, tk)
	return tk
}

// tick pushes one frame from every talker and runs one mixer tick.
func (r *room) tick() {
	now := r.n * FrameMillis * 1e6
	for _, tk := range r.ts {
		tk.push(now)
	}
	r.m.mixOnce(now)
	r.n++
}

func (r *room) run(ticks int) {
	for range ticks {
		r.tick()
	}
}

func want(pcm []int16, parts ...*talker) []int16 {
	out := make([]int16, len(pcm))
	tmp := make([]int16, len(pcm))
	for _, p := range parts {
		pattern(p.amp, p.per, tmp)
		for i := range out {
			out[i] += tmp[i]
		}
	}
	return out
}

func samePCM(t *testing.T, who string, got, want []int16) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: heard %d samples, want %d", who, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: sample %d = %d, want %d", who, i, got[i], want[i])
		}
	}
}

// TestMixMinusIsExact: three talkers and a silent listener. The listener
// hears the exact sum of the three; each talker hears exactly the other two,
// its own voice subtracted from the unclipped sum.
func TestMixMinusIsExact(t *testing.T) {
	r := newTestRoom(t, 3)
	a, b, c := r.add(40, 7), r.add(30, 11), r.add(20, 13)
	d := r.add(0, 2)
	r.run(10)
	samePCM(t, "listener", d.ear.last, want(d.ear.last, a, b, c))
	samePCM(t, "a", a.ear.last, want(a.ear.last, b, c))
	samePCM(t, "b", b.ear.last, want(b.ear.last, a, c))
	samePCM(t, "c", c.ear.last, want(c.ear.last, a, b))
	if got := r.m.Stats().Encodes; got == 0 {
		t.Fatal("nothing encoded")
	}
}

// TestEncodesGrowWithSpeakersNotMembers: with 3 speakers and 50 silent
// listeners, a tick encodes 3 mix-minus frames and 1 shared mix.
func TestEncodesGrowWithSpeakersNotMembers(t *testing.T) {
	r := newTestRoom(t, 3)
	r.add(40, 7)
	r.add(30, 11)
	r.add(20, 13)
	for range 50 {
		r.add(0, 2)
	}
	r.run(10)
	before := r.m.Stats().Encodes
	r.tick()
	if got := r.m.Stats().Encodes - before; got != 4 {
		t.Fatalf("a tick encoded %d frames, want 3 speakers + 1 shared mix", got)
	}
}

// TestMuteDeafHoldGainVolume: the room's controls act on the mix whatever
// the client does.
func TestMuteDeafHoldGainVolume(t *testing.T) {
	r := newTestRoom(t, 3)
	a, b := r.add(40, 7), r.add(30, 11)
	d := r.add(0, 2)
	r.run(10)
	a.mb.SetMuted(true)
	r.run(3)
	samePCM(t, "listener with a muted", d.ear.last, want(d.ear.last, b))
	a.mb.SetMuted(false)
	d.mb.SetDeaf(true)
	r.run(3)
	samePCM(t, "deaf listener", d.ear.last, make([]int16, FrameSamples))
	d.mb.SetDeaf(false)
	b.mb.SetHold(true)
	r.run(3)
	samePCM(t, "listener with b on hold", d.ear.last, want(d.ear.last, a))
	samePCM(t, "b on hold hears nothing", b.ear.last, make([]int16, FrameSamples))
	b.mb.SetHold(false)
	a.mb.SetGain(4) // ×4
	r.run(3)
	w := want(d.ear.last, b)
	tmp := want(d.ear.last, a)
	for i := range w {
		w[i] += tmp[i] * 4
	}
	samePCM(t, "a at gain +4", d.ear.last, w)
	a.mb.SetGain(0)
	d.mb.SetVolume(-4) // ÷4
	r.run(3)
	w = want(d.ear.last, a, b)
	for i := range w {
		w[i] = int16(int32(w[i]) * 64 >> 8)
	}
	samePCM(t, "listener at volume -4", d.ear.last, w)
}

// TestAloneHearsSilenceAndMixesNothing: one member costs one silent frame,
// encoded once.
func TestAloneHearsSilenceAndMixesNothing(t *testing.T) {
	r := newTestRoom(t, 3)
	a := r.add(40, 7)
	r.run(20)
	samePCM(t, "lone member", a.ear.last, make([]int16, FrameSamples))
	if got := r.m.Stats().Encodes; got != 1 {
		t.Fatalf("%d encodes for a lone member over 20 ticks, want the one silent frame", got)
	}
}

// TestLimiterBoundsLoudSums: three full-scale voices sum past int16; the
// listener's frame stays within range, with no plateau of clipped samples.
func TestLimiterBoundsLoudSums(t *testing.T) {
	r := newTestRoom(t, 3)
	r.add(250, 200)
	r.add(250, 200)
	r.add(250, 200)
	d := r.add(0, 2)
	for range 10 {
		r.tick()
		clipped := 0
		for _, s := range d.ear.last {
			if s == 32767 || s == -32768 {
				clipped++
			}
		}
		if clipped > 2 {
			t.Fatalf("tick %d: %d samples hard-clipped", r.n, clipped)
		}
	}
	peak := 0
	for _, s := range d.ear.last {
		peak = max(peak, int(s), -int(s))
	}
	if peak < ceiling*9/10 || peak > ceiling {
		t.Fatalf("steady peak %d, want near the ceiling %d", peak, ceiling)
	}
}

func TestLimiterRampsWithoutSteps(t *testing.T) {
	var l limiter
	src := make([]int32, FrameSamples)
	dst := make([]int16, FrameSamples)
	env := make([]int32, FrameSamples)
	for i := range src {
		src[i] = 20000 // below the ceiling: unity
	}
	l.apply(dst, src, 256, env)
	if dst[0] != 20000 || dst[FrameSamples-1] != 20000 {
		t.Fatalf("quiet frame changed: %d..%d", dst[0], dst[FrameSamples-1])
	}
	for i := range src {
		src[i] = 80000 // far above: the gain ramps down across the frame
	}
	l.apply(dst, src, 256, env)
	for i := 1; i < len(dst); i++ {
		if d := int(dst[i]) - int(dst[i-1]); d > 200 || d < -200 {
			t.Fatalf("step of %d at sample %d", d, i)
		}
	}
	if dst[FrameSamples-1] > ceiling {
		t.Fatalf("frame ends at %d, above the ceiling", dst[FrameSamples-1])
	}
}

func TestSelectorHysteresis(t *testing.T) {
	ms := make([]*Member, 4)
	for i := range ms {
		ms[i] = &Member{id: i + 1}
		ms[i].vad = activity{score: 90, talking: true}
	}
	ms[3].vad.score = 85
	s := newSelector(3)
	s.update(ms)
	if s.isSpeaker(ms[3]) {
		t.Fatal("the quietest of four talkers was selected")
	}
	// A challenger louder by less than the margin never takes over.
	ms[3].vad.score = 94
	for range 20 {
		s.update(ms)
	}
	if s.isSpeaker(ms[3]) {
		t.Fatal("a challenger 4 dB louder replaced a speaker")
	}
	// A brief spike above the margin does not take over either.
	ms[3].vad.score = 100
	for range swapTicks - 1 {
		s.update(ms)
	}
	ms[3].vad.score = 85
	s.update(ms)
	if s.isSpeaker(ms[3]) {
		t.Fatal("a spike shorter than swapTicks replaced a speaker")
	}
	// A sustained louder voice does.
	ms[3].vad.score = 100
	for range swapTicks {
		s.update(ms)
	}
	if !s.isSpeaker(ms[3]) {
		t.Fatal("a sustained louder voice did not become a speaker")
	}
	// A speaker who stops talking leaves at once, and the floor follows.
	for _, mb := range ms[:3] {
		mb.vad.talking = false
	}
	s.update(ms)
	if len(s.speakers) != 1 || s.floor != ms[3] {
		t.Fatalf("speakers %d, floor %v; want only member 4 holding the floor", len(s.speakers), s.floor)
	}
}

func TestActivityHysteresis(t *testing.T) {
	var a activity
	if !a.update(95) || !a.talking {
		t.Fatal("a loud frame did not start talking")
	}
	// Between the thresholds nothing changes; below offScore the hang-over runs out.
	for range 100 {
		if a.update(77) {
			t.Fatal("a level between the thresholds changed talking")
		}
	}
	changed := 0
	for i := range hangTicks + 10 {
		if a.update(0) {
			changed = i + 1
		}
	}
	if a.talking || changed == 0 {
		t.Fatal("silence never ended talking")
	}
}

// Exercise the String method and codec list so a new codec cannot be left out.
func TestCodecNames(t *testing.T) {
	for c, want := range map[Codec]string{CodecOpus: "opus", CodecPCMU: "PCMU", CodecPCMA: "PCMA", Codec(9): "unknown"} {
		if got := fmt.Sprint(c); got != want {
			t.Errorf("%d = %q, want %q", c, got, want)
		}
	}
}
