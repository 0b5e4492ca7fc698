package mixer

import (
	"math"
	"testing"
)

// Test helpers for measuring audio: tone power at one frequency, overall
// level, and test-signal generators. Shared by the codec, resampler and
// mixer tests.

// fullScalePower is the mean-square value of a full-scale int16 sine, the
// 0 dBFS reference of toneDB and rmsDB.
const fullScalePower = 32767.0 * 32767.0 / 2

// goertzelPower returns the mean-square power of pcm's component at freq
// (Hz) for a signal sampled at rate (Hz): a sine of amplitude A at freq
// gives A²/2, as its own RMS² would. It runs the Goertzel recurrence (one
// DFT bin) over the Hann-windowed signal and divides by the window's
// coherent gain; the window keeps leakage from other strong tones low
// (side lobes fall 18 dB/octave) and bounds the error for a frequency
// between bins to 1.4 dB. For exact figures use a whole number of cycles.
func goertzelPower(pcm []int16, rate, freq float64) float64 {
	n := len(pcm)
	if n == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/rate)
	var s1, s2, wsum float64
	for i, v := range pcm {
		w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
		wsum += w
		s0 := w*float64(v) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	mag2 := s1*s1 + s2*s2 - coeff*s1*s2 // |X(freq)|²
	amp := 2 * math.Sqrt(max(0, mag2)) / wsum
	return amp * amp / 2
}

// toneDB is goertzelPower in dB relative to a full-scale sine (dBFS).
func toneDB(pcm []int16, rate, freq float64) float64 {
	return powerDB(goertzelPower(pcm, rate, freq))
}

// rmsDB is pcm's overall level in dB relative to a full-scale sine.
func rmsDB(pcm []int16) float64 {
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return powerDB(sum / float64(max(1, len(pcm))))
}

// powerDB converts a mean-square value to dBFS, flooring silence at
// -200 dB so comparisons stay finite.
func powerDB(p float64) float64 {
	return 10 * math.Log10(max(p/fullScalePower, 1e-20))
}

// fillSine fills pcm with amp·sin(2π·freq·(start+i)/rate); start lets a
// generator continue a tone across frames without a phase jump.
func fillSine(pcm []int16, amp, rate, freq float64, start int) {
	for i := range pcm {
		pcm[i] = int16(math.Round(amp * math.Sin(2*math.Pi*freq*float64(start+i)/rate)))
	}
}

func TestGoertzelMeasuresToneAmplitude(t *testing.T) {
	pcm := make([]int16, SampleRate)
	fillSine(pcm, 16384, SampleRate, 1000, 0)
	want := 20 * math.Log10(16384.0/32767)
	if got := toneDB(pcm, SampleRate, 1000); math.Abs(got-want) > 0.01 {
		t.Errorf("1 kHz tone: %.3f dBFS, want %.3f", got, want)
	}
	if got := rmsDB(pcm); math.Abs(got-want) > 0.01 {
		t.Errorf("rms: %.3f dBFS, want %.3f", got, want)
	}
	if got := toneDB(pcm, SampleRate, 3000); got > want-100 {
		t.Errorf("3 kHz bin of a 1 kHz tone: %.1f dBFS, want below %.1f", got, want-100)
	}
}
