package mixer

// limiter brings an int32 sum into int16 range without harsh clipping. It
// sees a whole 20 ms frame before writing it, so it can lower the gain
// ahead of a peak: a backward pass computes, for every sample, the highest
// gain that keeps it under the ceiling and that can still be reached from
// the samples after it at the slew rate; a forward pass then follows that
// envelope from the previous frame's gain, never rising faster than the
// slew rate either. Gain changes are therefore ramps of at most 10 ms, not
// steps, except when a frame opens on a peak the previous one could not
// foresee.
type limiter struct {
	gain int32 // Q15; 0 means unset (unity)
}

const (
	unityQ15 = 1 << 15
	ceiling  = 29000 // about -1 dBFS: headroom for the encoder
	// slewQ15 is the most the gain moves per sample: unity to zero in 480
	// samples (10 ms).
	slewQ15 = unityQ15 / 480
)

func (l *limiter) reset() { l.gain = unityQ15 }

// apply writes src scaled by volume (Q8) and limited into dst. env is
// scratch space as long as src.
func (l *limiter) apply(dst []int16, src []int32, volumeQ8 int32, env []int32) {
	if l.gain == 0 {
		l.reset()
	}
	if l.gain == unityQ15 && peakScaled(src, volumeQ8) <= ceiling {
		for i, s := range src {
			dst[i] = int16(int64(s) * int64(volumeQ8) >> 8) // fits: under the ceiling
		}
		return
	}
	next := int32(unityQ15)
	for i := len(src) - 1; i >= 0; i-- {
		next = min(needQ15(scaled(src[i], volumeQ8)), next+slewQ15)
		env[i] = next
	}
	g := l.gain
	for i, s := range src {
		g = min(env[i], g+slewQ15)
		v := scaled(s, volumeQ8) * int64(g) >> 15
		dst[i] = int16(max(-32768, min(32767, v)))
	}
	l.gain = g
}

func scaled(s, volumeQ8 int32) int64 { return int64(s) * int64(volumeQ8) >> 8 }

// needQ15 is the largest gain that keeps v under the ceiling.
func needQ15(v int64) int32 {
	v = max(v, -v)
	if v <= ceiling {
		return unityQ15
	}
	return int32(ceiling * unityQ15 / v)
}

func peakScaled(src []int32, volumeQ8 int32) int64 {
	var peak int64
	for _, s := range src {
		v := scaled(s, volumeQ8)
		peak = max(peak, v, -v)
	}
	return peak
}
