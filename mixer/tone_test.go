package mixer

import (
	"math"
	"testing"
)

// TestToneLevelBlocksSurvivesPhaseBreaks: a -12 dBFS tone with a 10 ms
// hole every 150 ms (lost packets) still measures about -12 dB by blocks,
// and a tone that is not there stays far below.
func TestToneLevelBlocksSurvivesPhaseBreaks(t *testing.T) {
	var pcm []int16
	for i := range SampleRate {
		if i%7200 < 480 {
			continue // the hole: the samples after it arrive out of phase
		}
		pcm = append(pcm, int16(8000*math.Sin(2*math.Pi*880*float64(i)/SampleRate)))
	}
	if got := ToneLevelBlocks(pcm, SampleRate, 880, SampleRate/10); got < -14 {
		t.Errorf("880 Hz by blocks: %.1f dB, want about -12", got)
	}
	if got := ToneLevelBlocks(pcm, SampleRate, 440, SampleRate/10); got > -40 {
		t.Errorf("440 Hz by blocks: %.1f dB, want it absent", got)
	}
}
