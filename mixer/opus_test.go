package mixer

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/hraban/opus"
)

// voiceLike fills pcm (48 kHz) with a crude voiced-speech stand-in: a
// harmonic series on a gliding 120–180 Hz pitch under a 4 Hz syllable
// envelope. Unlike a steady tone it keeps libopus's voice activity
// detector (and with it the in-band FEC) active.
func voiceLike(pcm []int16) {
	var phase float64
	for i := range pcm {
		t := float64(i) / SampleRate
		f0 := 150 + 30*math.Sin(2*math.Pi*3*t)
		phase += 2 * math.Pi * f0 / SampleRate
		var v float64
		for k := 1.0; k <= 20; k++ {
			v += math.Sin(k*phase) / k
		}
		env := 0.6 + 0.4*math.Sin(2*math.Pi*4*t)
		pcm[i] = int16(4000 * env * v)
	}
}

// opusRun encodes pcm frame by frame and returns the packets.
func opusRun(t *testing.T, enc Encoder, pcm []int16) [][]byte {
	t.Helper()
	var packets [][]byte
	buf := make([]byte, MaxPayload)
	for i := 0; i+FrameSamples <= len(pcm); i += FrameSamples {
		n, err := enc.Encode(pcm[i:i+FrameSamples], buf)
		if err != nil {
			t.Fatalf("encode frame %d: %v", i/FrameSamples, err)
		}
		packets = append(packets, append([]byte(nil), buf[:n]...))
	}
	return packets
}

// opusDecodeAll decodes packets into one signal.
func opusDecodeAll(t *testing.T, dec Decoder, packets [][]byte) []int16 {
	t.Helper()
	out := make([]int16, len(packets)*FrameSamples)
	for i, p := range packets {
		n, err := dec.Decode(p, out[i*FrameSamples:(i+1)*FrameSamples])
		if err != nil || n != FrameSamples {
			t.Fatalf("decode frame %d: n=%d err=%v", i, n, err)
		}
	}
	return out
}

func newOpusPair(t *testing.T) (*OpusEncoder, *OpusDecoder) {
	t.Helper()
	enc, err := NewOpusEncoder()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewOpusDecoder()
	if err != nil {
		t.Fatal(err)
	}
	return enc, dec
}

func TestOpusKeepsTone(t *testing.T) {
	enc, dec := newOpusPair(t)
	in := make([]int16, SampleRate)
	fillSine(in, 10000, SampleRate, 440, 0)
	out := opusDecodeAll(t, dec, opusRun(t, enc, in))

	// Skip the first 200 ms (encoder start-up); 0.8 s is 352 whole cycles.
	from, to := SampleRate/5, SampleRate
	want := toneDB(in[from:to], SampleRate, 440)
	got := toneDB(out[from:to], SampleRate, 440)
	second := toneDB(out[from:to], SampleRate, 880) - got
	t.Logf("440 Hz: in %.2f dBFS, out %.2f dBFS; 880 Hz %.1f dB below", want, got, -second)
	if math.Abs(got-want) > 3 {
		t.Errorf("440 Hz tone decoded at %.2f dBFS, input %.2f dBFS: want within 3 dB", got, want)
	}
	if second > -30 {
		t.Errorf("880 Hz at %.1f dB relative to the tone, want ≤ -30 dB", second)
	}
}

func TestOpusConceal(t *testing.T) {
	enc, dec := newOpusPair(t)
	in := make([]int16, FrameSamples*10)
	voiceLike(in)
	packets := opusRun(t, enc, in)
	opusDecodeAll(t, dec, packets[:5])
	pcm := make([]int16, FrameSamples+100) // longer than a frame: must still conceal 20 ms
	n, err := dec.Conceal(pcm)
	if err != nil || n != FrameSamples {
		t.Fatalf("Conceal: n=%d err=%v, want %d", n, err, FrameSamples)
	}
	if rmsDB(pcm[:n]) < -60 {
		t.Errorf("concealed frame is silent (%.1f dBFS); PLC should extend the voice", rmsDB(pcm[:n]))
	}
	// The stream carries on after the gap.
	if n, err := dec.Decode(packets[6], pcm); err != nil || n != FrameSamples {
		t.Fatalf("decode after conceal: n=%d err=%v", n, err)
	}
}

// correlation is the normalised cross-correlation of a and b at lag 0.
func correlation(a, b []int16) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb+1)
}

func TestOpusRecoverFromFEC(t *testing.T) {
	enc, ref := newOpusPair(t)
	in := make([]int16, FrameSamples*40)
	voiceLike(in)
	packets := opusRun(t, enc, in)
	whole := opusDecodeAll(t, ref, packets) // reference: nothing lost

	// libopus sends LBRR only for frames its VAD finds active enough, so
	// not every packet carries it; packet 26 does.
	const lost = 25
	if !opusHasFEC(packets[lost+1]) {
		t.Fatalf("packet %d carries no FEC", lost+1)
	}
	_, fec := newOpusPair(t)
	_, plc := newOpusPair(t)
	opusDecodeAll(t, fec, packets[:lost])
	opusDecodeAll(t, plc, packets[:lost])
	got := make([]int16, FrameSamples)
	n, ok := fec.Recover(packets[lost+1], got)
	if !ok || n != FrameSamples {
		t.Fatalf("Recover: n=%d ok=%v, want %d true", n, ok, FrameSamples)
	}
	concealed := make([]int16, FrameSamples)
	if _, err := plc.Conceal(concealed); err != nil {
		t.Fatal(err)
	}
	want := whole[lost*FrameSamples : (lost+1)*FrameSamples]
	cFEC, cPLC := correlation(got, want), correlation(concealed, want)
	t.Logf("lost frame vs undamaged decode: FEC correlation %.3f, PLC %.3f", cFEC, cPLC)
	if cFEC < 0.8 || cFEC <= cPLC {
		t.Errorf("FEC frame correlates %.3f with the lost frame (PLC %.3f): want ≥ 0.8 and better than PLC", cFEC, cPLC)
	}
	if n, err := fec.Decode(packets[lost+1], got); err != nil || n != FrameSamples {
		t.Fatalf("decode after Recover: n=%d err=%v", n, err)
	}
}

// TestOpusFECFlagMatchesLibopus checks opusHasFEC against libopus
// itself: asked for FEC from a packet without any, libopus conceals
// instead, so its output equals plain PLC exactly when there is none.
// That holds only in a steady mode: across a mode switch (this encoder
// starts hybrid and settles on SILK-only) the FEC path conceals in the
// new packet's mode and PLC in the old one's, so those packets are
// skipped.
func TestOpusFECFlagMatchesLibopus(t *testing.T) {
	enc, _ := newOpusPair(t)
	in := make([]int16, FrameSamples*40)
	voiceLike(in)
	packets := opusRun(t, enc, in)
	fecFrame, plcFrame := make([]int16, FrameSamples), make([]int16, FrameSamples)
	with := 0
	checked := 0
	for next := 2; next < len(packets); next++ {
		if packets[next][0] != packets[next-1][0] || packets[next][0] != packets[next-2][0] {
			continue
		}
		checked++
		_, a := newOpusPair(t)
		_, b := newOpusPair(t)
		opusDecodeAll(t, a, packets[:next-1])
		opusDecodeAll(t, b, packets[:next-1])
		if err := a.dec.DecodeFEC(packets[next], fecFrame); err != nil {
			t.Fatal(err)
		}
		if err := b.dec.DecodePLC(plcFrame); err != nil {
			t.Fatal(err)
		}
		libopus := !slices.Equal(fecFrame, plcFrame)
		if got := opusHasFEC(packets[next]); got != libopus {
			t.Errorf("packet %d: opusHasFEC %v, libopus decoded FEC %v", next, got, libopus)
		}
		if libopus {
			with++
		}
	}
	t.Logf("%d of %d packets checked carry FEC", with, checked)
	if checked < len(packets)/2 || with < checked/2 || with == checked {
		t.Errorf("%d packets checked, %d with FEC: want a mix of both", checked, with)
	}
}

func TestOpusRecoverWithoutFEC(t *testing.T) {
	_, dec := newOpusPair(t)
	pcm := make([]int16, FrameSamples)
	if _, ok := dec.Recover(nil, pcm); ok {
		t.Error("Recover(nil) ok")
	}

	// An encoder with FEC switched off, and a CELT-only one.
	noFEC, _ := newOpusPair(t)
	if err := noFEC.enc.SetInBandFEC(false); err != nil {
		t.Fatal(err)
	}
	celt, err := opus.NewEncoder(SampleRate, 1, opus.AppRestrictedLowdelay)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]int16, FrameSamples*10)
	voiceLike(in)
	for name, enc := range map[string]Encoder{"no FEC": noFEC, "CELT": &OpusEncoder{enc: celt}} {
		for i, p := range opusRun(t, enc, in) {
			if _, ok := dec.Recover(p, pcm); ok {
				t.Errorf("%s: Recover from packet %d (config %d) ok", name, i, p[0]>>3)
			}
		}
	}
}

// TestOpusHasFECLayouts checks the LBRR-flag lookup on hand-made packets
// of every frame-packing code (RFC 6716 §3.2).
func TestOpusHasFECLayouts(t *testing.T) {
	const (
		silkNB20 = 1 << 3  // config 1: SILK NB 20 ms, one SILK frame
		silkWB40 = 10 << 3 // config 10: SILK WB 40 ms, two SILK frames
		hybFB20  = 15 << 3 // config 15: hybrid FB 20 ms
		celtFB20 = 31 << 3 // config 31: CELT FB 20 ms
	)
	for _, c := range []struct {
		name   string
		packet []byte
		want   bool
	}{
		{"code 0, LBRR", []byte{silkNB20, 0x40, 0}, true},
		{"code 0, VAD only", []byte{silkNB20, 0x80, 0xFF}, false},
		{"40 ms: flag after two VAD bits", []byte{silkWB40, 0x20}, true},
		{"40 ms: second VAD bit", []byte{silkWB40, 0x40}, false},
		{"hybrid", []byte{hybFB20, 0xC0}, true},
		{"CELT", []byte{celtFB20, 0xFF}, false},
		{"code 1", []byte{silkNB20 | 1, 0x40, 0x40}, true},
		{"code 2, 1-byte length", []byte{silkNB20 | 2, 1, 0x40, 0}, true},
		{"code 2, 2-byte length", []byte{silkNB20 | 2, 252, 0, 0x40}, true},
		{"code 3 CBR", []byte{silkNB20 | 3, 2, 0x40, 0}, true},
		{"code 3 padded", []byte{silkNB20 | 3, 0x40 | 2, 255, 3, 0x40, 0}, true},
		{"code 3 VBR", []byte{silkNB20 | 3, 0x80 | 3, 1, 252, 0, 0x40}, true},
		{"code 3 truncated", []byte{silkNB20 | 3, 0x40 | 2, 255}, false},
		{"TOC only", []byte{silkNB20}, false},
	} {
		if got := opusHasFEC(c.packet); got != c.want {
			t.Errorf("%s: opusHasFEC(% x) = %v, want %v", c.name, c.packet, got, c.want)
		}
	}
}

func TestOpusRejectsBadBuffers(t *testing.T) {
	enc, dec := newOpusPair(t)
	short := make([]int16, FrameSamples-1)
	if _, err := dec.Decode([]byte{0xF8, 0xFF, 0xFE}, short); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("Decode into %d samples: %v, want ErrShortBuffer", len(short), err)
	}
	if _, err := dec.Decode(nil, make([]int16, FrameSamples)); !errors.Is(err, ErrEmptyPayload) {
		t.Errorf("Decode(nil): %v, want ErrEmptyPayload", err)
	}
	if _, err := enc.Encode(short, make([]byte, MaxPayload)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("Encode of %d samples: %v, want ErrShortBuffer", len(short), err)
	}
}

func TestOpusDoesNotAllocate(t *testing.T) {
	enc, dec := newOpusPair(t)
	in := make([]int16, FrameSamples*20)
	voiceLike(in)
	packets := opusRun(t, enc, in) // warm-up
	opusDecodeAll(t, dec, packets)

	pcm, payload := make([]int16, FrameSamples), make([]byte, MaxPayload)
	frame := in[:FrameSamples]
	var n int
	if a := testing.AllocsPerRun(100, func() { n, _ = enc.Encode(frame, payload) }); a != 0 {
		t.Errorf("Encode: %.1f allocations per frame, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = dec.Decode(payload[:n], pcm) }); a != 0 {
		t.Errorf("Decode: %.1f allocations per frame, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = dec.Conceal(pcm) }); a != 0 {
		t.Errorf("Conceal: %.1f allocations per frame, want 0", a)
	}
	next := packets[len(packets)-1]
	if a := testing.AllocsPerRun(100, func() { dec.Recover(next, pcm) }); a != 0 {
		t.Errorf("Recover: %.1f allocations per frame, want 0", a)
	}
}

func BenchmarkOpusEncodeDecodeFrame(b *testing.B) {
	enc, err := NewOpusEncoder()
	if err != nil {
		b.Fatal(err)
	}
	dec, err := NewOpusDecoder()
	if err != nil {
		b.Fatal(err)
	}
	pcm := make([]int16, FrameSamples)
	voiceLike(pcm)
	out, payload := make([]int16, FrameSamples), make([]byte, MaxPayload)
	b.ReportAllocs()
	for b.Loop() {
		n, _ := enc.Encode(pcm, payload)
		_, _ = dec.Decode(payload[:n], out)
	}
}
