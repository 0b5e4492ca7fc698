package mixer

import (
	"math"
	"slices"
)

// ToneLevel is the level of the tone freq in pcm sampled at rate, in dB
// relative to a full-scale sine, measured with the Goertzel algorithm: a
// single-bin DFT, the cheap way to ask "is this frequency in there?" in
// tests and diagnostics.
func ToneLevel(pcm []int16, rate, freq float64) float64 {
	if len(pcm) == 0 {
		return math.Inf(-1)
	}
	k := 2 * math.Cos(2*math.Pi*freq/rate)
	var s1, s2 float64
	for _, x := range pcm {
		s0 := float64(x)/32768 + k*s1 - s2
		s2, s1 = s1, s0
	}
	power := s1*s1 + s2*s2 - k*s1*s2
	amp := 2 * math.Sqrt(math.Max(0, power)) / float64(len(pcm))
	return 20 * math.Log10(amp+1e-12)
}

// ToneLevelBlocks is the median of ToneLevel over consecutive blocks of
// block samples. A lost or late packet breaks the tone's phase; over a long
// window the pieces on either side of a break partly cancel, while blocks
// keep the damage to the few that hold a break.
func ToneLevelBlocks(pcm []int16, rate, freq float64, block int) float64 {
	var levels []float64
	for len(pcm) >= block {
		levels = append(levels, ToneLevel(pcm[:block], rate, freq))
		pcm = pcm[block:]
	}
	if len(levels) == 0 {
		return ToneLevel(pcm, rate, freq)
	}
	slices.Sort(levels)
	return levels[len(levels)/2]
}
