package dialin

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/room"
)

// Join and leave tones: two short beeps, rising when a phone joins and
// falling when it leaves, played into the room's mix so that everyone
// hears them. They are synthesized once as PCMU frames.
const (
	beepMillis   = 120
	beepGapMilli = 60
	toneLevel    = 0.2 // about -14 dBFS: audible, never louder than speech
)

// tones holds the encoded frames of each tone.
type tones struct {
	join, leave [][]byte
}

func makeTones() *tones {
	return &tones{join: beeps(523, 784), leave: beeps(784, 523)}
}

// beeps renders two tones (Hz) with a gap as 20 ms PCMU frames.
func beeps(first, second float64) [][]byte {
	var pcm []int16
	pcm = appendSine(pcm, first, beepMillis)
	pcm = append(pcm, make([]int16, beepGapMilli*mixer.NarrowRate/1000)...)
	pcm = appendSine(pcm, second, beepMillis)
	var frames [][]byte
	for off := 0; off < len(pcm); off += mixer.NarrowFrameSamples {
		f := make([]byte, mixer.NarrowFrameSamples)
		end := min(off+mixer.NarrowFrameSamples, len(pcm))
		n := mixer.EncodeULaw(f, pcm[off:end])
		for i := n; i < len(f); i++ {
			f[i] = 0xff // µ-law zero
		}
		frames = append(frames, f)
	}
	return frames
}

func appendSine(pcm []int16, hz float64, ms int) []int16 {
	n := ms * mixer.NarrowRate / 1000
	for i := range n {
		// A 5 ms raised-cosine ramp at each end: no click.
		ramp := math.Min(1, math.Min(float64(i), float64(n-1-i))/40)
		v := toneLevel * ramp * math.Sin(2*math.Pi*hz*float64(i)/mixer.NarrowRate)
		pcm = append(pcm, int16(v*32767))
	}
	return pcm
}

// tonePlayer plays tones into rooms' mixes, each on a short-lived
// goroutine it owns, paced at 20 ms like a phone.
type tonePlayer struct {
	tones *tones
	// ids number the tone sources' mixer members below zero, where no room
	// member ID lies, so the room ignores their talking reports.
	ids  atomic.Int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func newTonePlayer() *tonePlayer {
	return &tonePlayer{tones: makeTones(), stop: make(chan struct{})}
}

// play mixes frames into r as one more input for as long as they last.
func (tp *tonePlayer) play(r *room.Room, frames [][]byte) {
	id := int(-tp.ids.Add(1))
	in, err := r.Mixer().Add(id, mixer.MemberOptions{In: mixer.CodecPCMU, HasInput: true})
	if err != nil {
		return // the room is closing
	}
	tp.wg.Add(1)
	go tp.feed(r, in, frames)
}

// tailFrames keeps the source in the mix a little after its last frame,
// for the jitter buffer to play it out.
const tailFrames = 10

func (tp *tonePlayer) feed(r *room.Room, in *mixer.Member, frames [][]byte) {
	defer tp.wg.Done()
	defer r.Mixer().Remove(in)
	t := time.NewTicker(mixer.FrameMillis * time.Millisecond)
	defer t.Stop()
	for i := range len(frames) + tailFrames {
		select {
		case <-tp.stop:
			return
		case <-t.C:
		}
		if i < len(frames) {
			in.Push(uint16(i), uint32(i*mixer.NarrowFrameSamples), frames[i], -1, mixer.Now())
		}
	}
}

// close stops every tone and waits for their goroutines.
func (tp *tonePlayer) close() {
	close(tp.stop)
	tp.wg.Wait()
}
