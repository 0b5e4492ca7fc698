package mixer

import "math"

// Loudness is kept as a score: 127 minus the RFC 6464 level, i.e. dB above
// -127 dBov (0 silence, 127 full scale). Speech sits around 80-100.
const (
	// A member starts talking above onScore (-45 dBov) and stops below
	// offScore (-55 dBov) after hangTicks: the gap keeps breathing noise
	// from toggling the talking flag, the hang-over keeps pauses between
	// words from ending a speaker's turn.
	onScore   = 82
	offScore  = 72
	hangTicks = 20 // 400 ms
)

// activity is one input's voice activity with hysteresis.
type activity struct {
	score   int // smoothed loudness score
	talking bool
	hang    int
}

// update folds in this tick's loudness and reports whether talking changed.
// The score rises at once and falls by a quarter of the gap per tick, so a
// word's onset is caught immediately and its tail fades smoothly.
func (a *activity) update(instant int) bool {
	if instant >= a.score {
		a.score = instant
	} else {
		a.score -= (a.score - instant + 3) / 4
	}
	switch {
	case a.score >= onScore:
		a.hang = hangTicks
		if !a.talking {
			a.talking = true
			return true
		}
	case a.talking && a.score < offScore:
		if a.hang--; a.hang <= 0 {
			a.talking = false
			return true
		}
	}
	return false
}

// pcmScore measures a decoded frame's loudness as a score (RMS in dBov).
func pcmScore(pcm []int16) int {
	var sum int64
	for _, s := range pcm {
		sum += int64(s) * int64(s)
	}
	if sum == 0 {
		return 0
	}
	rms := math.Sqrt(float64(sum) / float64(len(pcm)))
	dbov := 20 * math.Log10(rms/32767)
	return max(0, min(127, 127+int(dbov)))
}

// levelScore turns an RFC 6464 level (-dBov, 0..127) into a score.
func levelScore(level int) int { return 127 - max(0, min(127, level)) }
