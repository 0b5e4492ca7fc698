package mixer

import "math"

// Sample-rate conversion between G.711's 8 kHz and the mix's 48 kHz.
//
// Both directions use one linear-phase low-pass FIR designed at 48 kHz:
// the upsampler inserts five zeros after every 8 kHz sample and filters
// away the images at 8k±f, 16k±f, …; the downsampler filters away
// everything above 4 kHz and keeps every sixth sample. The upsampler runs
// the filter in polyphase form (six sub-filters of resampleTapsPerPhase
// taps, one per output phase) so that it never multiplies by the
// inserted zeros; the downsampler only computes the outputs it keeps.
//
// The filter is a Kaiser-windowed sinc. Its numbers are chosen for
// telephony: the passband must reach 3.4 kHz (the top of the G.712
// telephone channel), and everything from 4 kHz up must be at least 60 dB
// down, since the 8 kHz side folds 4 kHz+Δ onto 4 kHz−Δ. That leaves a
// ~600 Hz transition band, which at 48 kHz takes ~380 taps for 70+ dB
// (Kaiser's length estimate (A−8)/(2.285·Δω)).

const (
	// resampleFactor is SampleRate/NarrowRate.
	resampleFactor = SampleRate / NarrowRate
	// resampleTapsPerPhase sets the filter length: 64 taps per phase
	// (379 at 48 kHz, 8 ms of history at 8 kHz) measures 75 dB of
	// stop-band attenuation from 4 kHz up (TestResampleFilterResponse);
	// 48 per phase reaches only 54 dB with any β, 56 reaches 63 dB.
	resampleTapsPerPhase = 64
	// resampleTaps is odd so the delay is a whole number of 48 kHz
	// samples; 6·K−5 rather than 6·K−1 also makes the delay of a round
	// trip through both directions, 2·resampleDelay = 378 = 63·6, a whole
	// number of 8 kHz samples, so it can be compensated (or compared, as
	// the tests do) sample for sample at either rate. The upsampler pads
	// the filter with zeros to 6·K.
	resampleTaps = resampleFactor*resampleTapsPerPhase - 5
	// resampleDelay is each direction's group delay in 48 kHz samples
	// (189, ≈3.9 ms).
	resampleDelay = (resampleTaps - 1) / 2
	// resampleCutoff is the −6 dB point, midway through the transition
	// band between the 3.4 kHz passband edge and the 4 kHz stop edge.
	resampleCutoff = 3700.0
	// resampleKaiserBeta gives the Kaiser window ~75 dB side lobes
	// (β = 0.1102·(A−8.7)).
	resampleKaiserBeta = 7.3
)

var (
	// resampleLowPass is the prototype filter with unity DC gain.
	resampleLowPass = designLowPass()
	// upsamplePhases[p] holds the taps h[6k+p] in reverse order, so
	// output phase p is a dot product with the last K input samples in
	// time order. Each phase sums to ≈1: interpolation keeps DC at unity.
	upsamplePhases = splitPhases(resampleLowPass)
)

// designLowPass returns the windowed-sinc low-pass, normalised so its
// taps sum to exactly 1.
func designLowPass() [resampleTaps]float32 {
	var h [resampleTaps]float64
	fc := resampleCutoff / SampleRate // cycles per sample
	sum := 0.0
	for i := range h {
		t := float64(i - resampleDelay)
		h[i] = 2 * fc * sinc(2*fc*t) * kaiser(t/resampleDelay, resampleKaiserBeta)
		sum += h[i]
	}
	var out [resampleTaps]float32
	for i := range h {
		out[i] = float32(h[i] / sum)
	}
	return out
}

// sinc is the normalised sinc, sin(πx)/(πx).
func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// kaiser evaluates the Kaiser window at x ∈ [−1, 1].
func kaiser(x, beta float64) float64 {
	return besselI0(beta*math.Sqrt(max(0, 1-x*x))) / besselI0(beta)
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series Σ ((x/2)^k / k!)², which converges quickly for the
// β < 10 used here.
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; term > 1e-12*sum; k++ {
		f := x / (2 * float64(k))
		term *= f * f
		sum += term
	}
	return sum
}

// splitPhases scales the prototype by the factor (the zeros inserted by
// upsampling cost that much gain) and deals its taps into the six
// reversed polyphase sub-filters.
func splitPhases(h [resampleTaps]float32) (ph [resampleFactor][resampleTapsPerPhase]float32) {
	for j, c := range h {
		p, k := j%resampleFactor, j/resampleFactor
		ph[p][resampleTapsPerPhase-1-k] = c * resampleFactor
	}
	return ph
}

// dot is the filter's inner loop over len(taps) samples of window. Four
// independent sums let the CPU overlap the floating-point additions
// instead of waiting on one long dependency chain (≈2× faster here).
func dot(taps, window []float32) float32 {
	window = window[:len(taps)]
	var a0, a1, a2, a3 float32
	i := 0
	for ; i+4 <= len(taps); i += 4 {
		t, w := taps[i:i+4:i+4], window[i:i+4:i+4]
		a0 += t[0] * w[0]
		a1 += t[1] * w[1]
		a2 += t[2] * w[2]
		a3 += t[3] * w[3]
	}
	for ; i < len(taps); i++ {
		a0 += taps[i] * window[i]
	}
	return (a0 + a1) + (a2 + a3)
}

// toInt16 rounds to nearest and saturates: a full-scale input can
// overshoot by the filter's ripple (Gibbs) and must not wrap around.
func toInt16(v float32) int16 {
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	case v < 0:
		return int16(v - 0.5)
	}
	return int16(v + 0.5)
}

// Upsampler converts 8 kHz to 48 kHz. It keeps the last
// resampleTapsPerPhase−1 input samples between calls, so a stream
// processed frame by frame is identical to the same stream processed in
// one call, with no discontinuity at frame edges. The zero value is ready
// to use (its history is silence). One goroutine at a time.
type Upsampler struct {
	// buf holds the history followed by the chunk being processed.
	buf [resampleTapsPerPhase - 1 + NarrowFrameSamples]float32
}

// NewUpsampler returns an Upsampler whose history is silence.
func NewUpsampler() *Upsampler { return new(Upsampler) }

// Process upsamples src (8 kHz) into dst (48 kHz) and returns the number of
// samples written: 6·min(len(src), len(dst)/6). For one 20 ms frame, src
// has NarrowFrameSamples (160) and dst FrameSamples (960). Any length
// works; it does not allocate.
func (u *Upsampler) Process(dst, src []int16) int {
	n := min(len(src), len(dst)/resampleFactor)
	for done := 0; done < n; {
		c := min(n-done, NarrowFrameSamples)
		u.chunk(dst[done*resampleFactor:], src[done:done+c])
		done += c
	}
	return n * resampleFactor
}

// chunk processes at most NarrowFrameSamples inputs.
func (u *Upsampler) chunk(dst, src []int16) {
	const hist = resampleTapsPerPhase - 1
	for i, s := range src {
		u.buf[hist+i] = float32(s)
	}
	for i := range src {
		window := u.buf[i : i+resampleTapsPerPhase]
		out := dst[i*resampleFactor : (i+1)*resampleFactor]
		for p := range out {
			out[p] = toInt16(dot(upsamplePhases[p][:], window))
		}
	}
	copy(u.buf[:hist], u.buf[len(src):len(src)+hist])
}

// Downsampler converts 48 kHz to 8 kHz: low-pass, then keep every sixth
// sample. Like Upsampler it carries its filter history across calls, its
// zero value is ready to use, and it is used by one goroutine at a time.
type Downsampler struct {
	// buf holds the history followed by the chunk being processed.
	buf [resampleTaps - 1 + FrameSamples]float32
}

// NewDownsampler returns a Downsampler whose history is silence.
func NewDownsampler() *Downsampler { return new(Downsampler) }

// Process downsamples src (48 kHz) into dst (8 kHz) and returns the number
// of samples written: min(len(dst), len(src)/6). For one 20 ms frame, src
// has FrameSamples (960) and dst NarrowFrameSamples (160). Input beyond
// 6× the returned count is ignored, so keep len(src) a multiple of 6 to
// stay continuous. It does not allocate.
func (d *Downsampler) Process(dst, src []int16) int {
	n := min(len(dst), len(src)/resampleFactor)
	for done := 0; done < n; {
		c := min(n-done, NarrowFrameSamples)
		d.chunk(dst[done:done+c], src[done*resampleFactor:(done+c)*resampleFactor])
		done += c
	}
	return n
}

// chunk processes at most FrameSamples inputs, len(dst)·6 of them.
func (d *Downsampler) chunk(dst, src []int16) {
	const hist = resampleTaps - 1
	for i, s := range src {
		d.buf[hist+i] = float32(s)
	}
	for i := range dst {
		// Output i is input 6i filtered: its window ends there, so both
		// directions delay by exactly resampleDelay at 48 kHz. The
		// filter is symmetric, so the taps need no reversing.
		start := i * resampleFactor
		dst[i] = toInt16(dot(resampleLowPass[:], d.buf[start:start+resampleTaps]))
	}
	copy(d.buf[:hist], d.buf[len(src):len(src)+hist])
}
