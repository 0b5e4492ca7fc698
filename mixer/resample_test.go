package mixer

import (
	"math"
	"testing"
)

// filterResponseDB is the prototype's gain at freq (Hz, 48 kHz domain), by
// direct evaluation of its transfer function.
func filterResponseDB(freq float64) float64 {
	var re, im float64
	for i, c := range resampleLowPass {
		w := 2 * math.Pi * freq / SampleRate * float64(i)
		re += float64(c) * math.Cos(w)
		im -= float64(c) * math.Sin(w)
	}
	return 10 * math.Log10(re*re+im*im)
}

func TestResampleFilterResponse(t *testing.T) {
	worst, worstAt := -math.MaxFloat64, 0.0
	for f := 4000.0; f <= SampleRate/2; f += 5 {
		if g := filterResponseDB(f); g > worst {
			worst, worstAt = g, f
		}
	}
	t.Logf("%d taps; stop band ≥ 4 kHz: worst %.1f dB at %.0f Hz", resampleTaps, worst, worstAt)
	if worst > -60 {
		t.Errorf("stop band: %.1f dB at %.0f Hz, want ≤ -60 dB", worst, worstAt)
	}
	for f := 0.0; f <= 3400; f += 5 {
		if g := filterResponseDB(f); math.Abs(g) > 0.05 {
			t.Fatalf("pass band: %.3f dB at %.0f Hz, want within ±0.05 dB", g, f)
		}
	}
}

// upsampleAll runs src through a fresh Upsampler in 20 ms frames.
func upsampleAll(src []int16) []int16 {
	u := NewUpsampler()
	dst := make([]int16, len(src)*resampleFactor)
	for i := 0; i+NarrowFrameSamples <= len(src); i += NarrowFrameSamples {
		u.Process(dst[i*resampleFactor:], src[i:i+NarrowFrameSamples])
	}
	return dst
}

// downsampleAll runs src through a fresh Downsampler in 20 ms frames.
func downsampleAll(src []int16) []int16 {
	d := NewDownsampler()
	dst := make([]int16, len(src)/resampleFactor)
	for i := 0; i+NarrowFrameSamples <= len(dst); i += NarrowFrameSamples {
		d.Process(dst[i:i+NarrowFrameSamples], src[i*resampleFactor:])
	}
	return dst
}

// steadyPart drops the filters' start-up transient (the first 100 ms) and
// keeps a whole second, a whole number of cycles of every test tone.
func steadyPart(pcm []int16, rate int) []int16 {
	return pcm[rate/10 : rate/10+rate]
}

func toneAt(rate int, freq, amp float64) []int16 {
	pcm := make([]int16, rate*12/10)
	fillSine(pcm, amp, float64(rate), freq, 0)
	return pcm
}

func TestResampleKeepsPassbandTone(t *testing.T) {
	const amp = 16000
	in := 20 * math.Log10(amp/32767.0)
	cases := []struct {
		name string
		out  []int16
		rate int
	}{
		{"up", upsampleAll(toneAt(NarrowRate, 1000, amp)), SampleRate},
		{"down", downsampleAll(toneAt(SampleRate, 1000, amp)), NarrowRate},
		{"down+up", upsampleAll(downsampleAll(toneAt(SampleRate, 1000, amp))), SampleRate},
		{"up+down", downsampleAll(upsampleAll(toneAt(NarrowRate, 1000, amp))), NarrowRate},
	}
	for _, c := range cases {
		got := toneDB(steadyPart(c.out, c.rate), float64(c.rate), 1000)
		t.Logf("%s: 1 kHz %.3f dB", c.name, got-in)
		if math.Abs(got-in) > 1 {
			t.Errorf("%s: 1 kHz tone at %.2f dBFS, input %.2f dBFS: want within 1 dB", c.name, got, in)
		}
	}
}

// TestDownsampleDoesNotAlias is the requirement that a tone above 4 kHz
// does not fold into the 8 kHz output: 6 kHz and 10 kHz both alias to
// 2 kHz, 4.3 kHz to 3.7 kHz.
func TestDownsampleDoesNotAlias(t *testing.T) {
	const amp = 16000
	in := 20 * math.Log10(amp/32767.0)
	for _, c := range []struct{ freq, alias, want float64 }{
		{6000, 2000, 50}, {10000, 2000, 50}, {4300, 3700, 60}, {19000, 3000, 60},
	} {
		out := steadyPart(downsampleAll(toneAt(SampleRate, c.freq, amp)), NarrowRate)
		atAlias := in - toneDB(out, NarrowRate, c.alias)
		overall := in - rmsDB(out)
		t.Logf("%.0f Hz: alias at %.0f Hz -%.1f dB, overall -%.1f dB", c.freq, c.alias, atAlias, overall)
		if atAlias < c.want || overall < c.want {
			t.Errorf("%.0f Hz: attenuated %.1f dB at %.0f Hz, %.1f dB overall; want ≥ %.0f dB",
				c.freq, atAlias, c.alias, overall, c.want)
		}
	}
}

func TestUpsampleSuppressesImages(t *testing.T) {
	const amp = 16000
	out := steadyPart(upsampleAll(toneAt(NarrowRate, 1000, amp)), SampleRate)
	ref := toneDB(out, SampleRate, 1000)
	for _, image := range []float64{7000, 9000, 15000, 17000, 23000} {
		rel := toneDB(out, SampleRate, image) - ref
		t.Logf("image %.0f Hz: %.1f dB", image, rel)
		if rel > -50 {
			t.Errorf("image at %.0f Hz: %.1f dB relative to the tone, want ≤ -50 dB", image, rel)
		}
	}
}

// TestResampleRoundTripDelay checks the documented delay: down then up
// returns the input shifted by 2·resampleDelay samples.
func TestResampleRoundTripDelay(t *testing.T) {
	in := toneAt(SampleRate, 1000, 16000)
	out := upsampleAll(downsampleAll(in))
	const delay = 2 * resampleDelay
	var sig, noise float64
	for i := SampleRate / 10; i < len(out); i++ {
		d := float64(out[i]) - float64(in[i-delay])
		sig += float64(in[i-delay]) * float64(in[i-delay])
		noise += d * d
	}
	snr := 10 * math.Log10(sig/noise)
	t.Logf("round trip vs input delayed %d samples: SNR %.1f dB", delay, snr)
	if snr < 50 {
		t.Errorf("round trip SNR %.1f dB at delay %d, want ≥ 50 dB", snr, delay)
	}
}

func TestResampleFramesEqualOneBlock(t *testing.T) {
	narrow := toneAt(NarrowRate, 1234, 20000)
	whole := make([]int16, len(narrow)*resampleFactor)
	if n := NewUpsampler().Process(whole, narrow); n != len(whole) {
		t.Fatalf("up: wrote %d, want %d", n, len(whole))
	}
	sameSamples(t, "up", upsampleAll(narrow), whole)

	wide := toneAt(SampleRate, 1234, 20000)
	wholeDown := make([]int16, len(wide)/resampleFactor)
	if n := NewDownsampler().Process(wholeDown, wide); n != len(wholeDown) {
		t.Fatalf("down: wrote %d, want %d", n, len(wholeDown))
	}
	sameSamples(t, "down", downsampleAll(wide), wholeDown)
}

func sameSamples(t *testing.T, what string, got, want []int16) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: frame-by-frame differs from one block at sample %d: %d vs %d", what, i, got[i], want[i])
		}
	}
}

func TestResamplePassesDC(t *testing.T) {
	const level = 10000
	check := func(what string, out []int16) {
		t.Helper()
		for i, v := range out[len(out)/2:] {
			if math.Abs(float64(v)-level) > level*0.005 {
				t.Fatalf("%s: sample %d = %d, want %d ±0.5%%", what, i, v, level)
			}
		}
	}
	check("up", upsampleAll(constPCM(NarrowRate, level)))
	check("down", downsampleAll(constPCM(SampleRate, level)))
}

func constPCM(n int, v int16) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = v
	}
	return pcm
}

func TestResampleSaturates(t *testing.T) {
	// A full-scale square wave overshoots (Gibbs); it must clip, not wrap.
	sq := make([]int16, NarrowFrameSamples*5)
	for i := range sq {
		sq[i] = math.MaxInt16
		if i/20%2 == 1 {
			sq[i] = math.MinInt16
		}
	}
	out := upsampleAll(sq)
	for i := 1; i < len(out); i++ {
		if d := int(out[i]) - int(out[i-1]); d > 30000 || d < -30000 {
			t.Fatalf("jump of %d at sample %d: wrapped around", d, i)
		}
	}
}

func TestResampleDoesNotAllocate(t *testing.T) {
	u, d := NewUpsampler(), NewDownsampler()
	narrow := make([]int16, NarrowFrameSamples)
	wide := make([]int16, FrameSamples)
	fillSine(wide, 10000, SampleRate, 440, 0)
	if a := testing.AllocsPerRun(200, func() {
		d.Process(narrow, wide)
		u.Process(wide, narrow)
	}); a != 0 {
		t.Errorf("%.1f allocations per down+up frame, want 0", a)
	}
}

func BenchmarkUpsampleFrame(b *testing.B) {
	u := NewUpsampler()
	src, dst := make([]int16, NarrowFrameSamples), make([]int16, FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		u.Process(dst, src)
	}
}

func BenchmarkDownsampleFrame(b *testing.B) {
	d := NewDownsampler()
	src, dst := make([]int16, FrameSamples), make([]int16, NarrowFrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		d.Process(dst, src)
	}
}
