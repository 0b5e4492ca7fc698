package mixer

import (
	"errors"
	"math"
	"testing"
)

func TestCodecRTPParameters(t *testing.T) {
	for _, c := range []struct {
		codec      Codec
		pt         uint8
		rate, step uint32
	}{
		{CodecOpus, 111, 48000, 960},
		{CodecPCMU, 0, 8000, 160},
		{CodecPCMA, 8, 8000, 160},
		{Codec(99), 255, 0, 0},
	} {
		if got := c.codec.PayloadType(); got != c.pt {
			t.Errorf("%v.PayloadType() = %d, want %d", c.codec, got, c.pt)
		}
		if got := c.codec.ClockRate(); got != c.rate {
			t.Errorf("%v.ClockRate() = %d, want %d", c.codec, got, c.rate)
		}
		if got := c.codec.FrameTimestamp(); got != c.step {
			t.Errorf("%v.FrameTimestamp() = %d, want %d", c.codec, got, c.step)
		}
	}
}

func TestCodecFactory(t *testing.T) {
	for _, c := range []Codec{CodecOpus, CodecPCMU, CodecPCMA} {
		if _, err := NewDecoder(c); err != nil {
			t.Errorf("NewDecoder(%v): %v", c, err)
		}
		if _, err := NewEncoder(c); err != nil {
			t.Errorf("NewEncoder(%v): %v", c, err)
		}
	}
	if _, err := NewDecoder(Codec(99)); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("NewDecoder(99): %v, want ErrUnknownCodec", err)
	}
	if _, err := NewEncoder(Codec(99)); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("NewEncoder(99): %v, want ErrUnknownCodec", err)
	}
}

// codecRoundTrip encodes pcm with a fresh encoder for c and decodes the
// result with a fresh decoder, frame by frame.
func codecRoundTrip(t *testing.T, c Codec, pcm []int16) []int16 {
	t.Helper()
	enc, err := NewEncoder(c)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(c)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(pcm))
	payload := make([]byte, MaxPayload)
	for i := 0; i+FrameSamples <= len(pcm); i += FrameSamples {
		n, err := enc.Encode(pcm[i:i+FrameSamples], payload)
		if err != nil {
			t.Fatalf("%v encode: %v", c, err)
		}
		if m, err := dec.Decode(payload[:n], out[i:i+FrameSamples]); err != nil || m != FrameSamples {
			t.Fatalf("%v decode: n=%d err=%v", c, m, err)
		}
	}
	return out
}

// delayedSNR compares out with in delayed by delay samples, from sample
// from on, and returns the signal-to-noise ratio in dB.
func delayedSNR(in, out []int16, delay, from int) float64 {
	var sig, noise float64
	for i := from; i < len(out); i++ {
		ref := float64(in[i-delay])
		d := float64(out[i]) - ref
		sig += ref * ref
		noise += d * d
	}
	return 10 * math.Log10(sig/noise)
}

func TestG711ThroughFactoryKeepsTone(t *testing.T) {
	// One second at −10 dBFS, where G.711's SNR is ~38 dB. 1 kHz is an
	// eighth of the G.711 rate, so every cycle samples the same 8 values
	// and the quantisation error is one fixed pattern rather than noise
	// (µ-law happens to land at ~32 dB there); telephony test tones such
	// as 1020 Hz avoid sub-multiples of 8 kHz for that reason.
	for _, freq := range []float64{1000, 1020} {
		in := make([]int16, SampleRate)
		fillSine(in, 10362, SampleRate, freq, 0)
		for _, c := range []Codec{CodecPCMU, CodecPCMA} {
			out := codecRoundTrip(t, c, in)
			// The filters delay by 2·resampleDelay (≈7.9 ms); skip 100 ms.
			from := SampleRate / 10
			snr := delayedSNR(in, out, 2*resampleDelay, from)
			level := toneDB(out[from:], SampleRate, freq) - toneDB(in[from:], SampleRate, freq)
			t.Logf("%v %.0f Hz: SNR %.1f dB, level %+.2f dB", c, freq, snr, level)
			if snr < 30 || math.Abs(level) > 0.5 {
				t.Errorf("%v %.0f Hz: SNR %.1f dB, level %+.2f dB; want ≥ 30 dB, within 0.5 dB", c, freq, snr, level)
			}
		}
	}
}

func TestOpusThroughFactoryKeepsTone(t *testing.T) {
	in := make([]int16, SampleRate)
	fillSine(in, 10362, SampleRate, 1000, 0)
	out := codecRoundTrip(t, CodecOpus, in)
	from := SampleRate / 5
	got, want := toneDB(out[from:], SampleRate, 1000), toneDB(in[from:], SampleRate, 1000)
	t.Logf("opus: 1 kHz %.2f dBFS in, %.2f dBFS out", want, got)
	if math.Abs(got-want) > 3 {
		t.Errorf("opus: 1 kHz at %.2f dBFS, input %.2f dBFS: want within 3 dB", got, want)
	}
}

// TestG711ConcealKeepsFilterState checks that Conceal feeds silence
// through the same upsampler: decoding frames, concealing one and
// decoding more must equal upsampling the whole 8 kHz stream, with the
// missing frame as zeros, in one go.
func TestG711ConcealKeepsFilterState(t *testing.T) {
	narrow := make([]int16, NarrowFrameSamples*6)
	fillSine(narrow, 12000, NarrowRate, 700, 0)
	payloads := make([]byte, len(narrow))
	EncodeULaw(payloads, narrow)
	const missing = 3

	dec, err := NewDecoder(CodecPCMU)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int16, len(narrow)*resampleFactor)
	for f := range len(narrow) / NarrowFrameSamples {
		pcm := got[f*FrameSamples : (f+1)*FrameSamples]
		var n int
		if f == missing {
			n, err = dec.Conceal(pcm)
		} else {
			n, err = dec.Decode(payloads[f*NarrowFrameSamples:(f+1)*NarrowFrameSamples], pcm)
		}
		if err != nil || n != FrameSamples {
			t.Fatalf("frame %d: n=%d err=%v", f, n, err)
		}
	}

	DecodeULaw(narrow, payloads)
	clear(narrow[missing*NarrowFrameSamples : (missing+1)*NarrowFrameSamples])
	want := make([]int16, len(got))
	NewUpsampler().Process(want, narrow)
	sameSamples(t, "conceal", got, want)

	// The concealed frame starts with the last frame's filter tail, not a
	// jump to zero.
	edge := missing * FrameSamples
	if d := math.Abs(float64(got[edge]) - float64(got[edge-1])); d > 2000 {
		t.Errorf("step of %.0f into the concealed frame", d)
	}
}

func TestG711CodecErrors(t *testing.T) {
	dec, _ := NewDecoder(CodecPCMA)
	enc, _ := NewEncoder(CodecPCMA)
	pcm := make([]int16, FrameSamples)
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"decode 159 bytes", errOf(dec.Decode(make([]byte, 159), pcm)), ErrPayloadSize},
		{"decode 161 bytes", errOf(dec.Decode(make([]byte, 161), pcm)), ErrPayloadSize},
		{"decode nothing", errOf(dec.Decode(nil, pcm)), ErrEmptyPayload},
		{"decode into 959", errOf(dec.Decode(make([]byte, 160), pcm[:959])), ErrShortBuffer},
		{"conceal into 959", errOf(dec.Conceal(pcm[:959])), ErrShortBuffer},
		{"encode 959", errOf(enc.Encode(pcm[:959], make([]byte, 160))), ErrShortBuffer},
		{"encode into 159", errOf(enc.Encode(pcm, make([]byte, 159))), ErrShortBuffer},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	if _, ok := dec.Recover(make([]byte, 160), pcm); ok {
		t.Error("G.711 Recover ok")
	}
}

func errOf(_ int, err error) error { return err }

func TestG711CodecDoesNotAllocate(t *testing.T) {
	for _, c := range []Codec{CodecPCMU, CodecPCMA} {
		enc, _ := NewEncoder(c)
		dec, _ := NewDecoder(c)
		pcm := make([]int16, FrameSamples)
		fillSine(pcm, 10000, SampleRate, 1000, 0)
		payload := make([]byte, MaxPayload)
		a := testing.AllocsPerRun(200, func() {
			n, _ := enc.Encode(pcm, payload)
			_, _ = dec.Decode(payload[:n], pcm)
			_, _ = dec.Conceal(pcm)
		})
		if a != 0 {
			t.Errorf("%v: %.1f allocations per Encode+Decode+Conceal, want 0", c, a)
		}
	}
}

func BenchmarkG711RoundTripFrame(b *testing.B) {
	enc, _ := NewEncoder(CodecPCMU)
	dec, _ := NewDecoder(CodecPCMU)
	pcm := make([]int16, FrameSamples)
	fillSine(pcm, 10000, SampleRate, 1000, 0)
	payload := make([]byte, MaxPayload)
	b.ReportAllocs()
	for b.Loop() {
		n, _ := enc.Encode(pcm, payload)
		_, _ = dec.Decode(payload[:n], pcm)
	}
}
