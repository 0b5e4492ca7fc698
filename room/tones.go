package room

import (
	"math"
	"sync"
	"time"

	"github.com/confd/confd/mixer"
)

// TonePolicy says when a room marks members coming and going with a tone:
// two short beeps mixed into the room's audio, rising as a member enters
// the mix and falling as it leaves.
type TonePolicy string

// Tone policies.
const (
	// TonesPhones (the default, also for "") plays them only while a phone
	// is among those who hear them: browser users see the participant list
	// and its notices, a phone user has nothing else to go by.
	TonesPhones TonePolicy = "phones"
	TonesAlways TonePolicy = "always"
	TonesNever  TonePolicy = "never"
)

// Valid reports whether t is a policy ("" is TonesPhones).
func (t TonePolicy) Valid() bool {
	switch t {
	case "", TonesPhones, TonesAlways, TonesNever:
		return true
	}
	return false
}

// wantTone decides whether a join or leave is heard: others is how many
// members besides the one coming or going are in the mix, phones how many
// phones will hear the tone (the one joining included, the one leaving
// not). A member alone hears none: a phone gets its "only person"
// prompt instead, and a room left empty has nobody to tell.
func wantTone(policy TonePolicy, others, phones int) bool {
	switch {
	case others == 0 || policy == TonesNever:
		return false
	case policy == TonesAlways:
		return true
	}
	return phones > 0
}

// enterLocked counts p as in the mix once it has audio and is not waiting
// in the lobby, and plays the join tone for it. It is called where either
// condition can become true (JoinAudio, admission); a member counts once
// however often its audio is rebuilt (a re-INVITE, a reattach), and a hold
// changes nothing.
func (r *Room) enterLocked(p *Participant) {
	if p.entered || p.left || p.waiting || p.audio == nil || p.Info.Kind == KindScreen {
		return
	}
	p.entered = true
	r.toneLocked(p, true)
}

// exitLocked plays the leave tone for a member that was in the mix.
func (r *Room) exitLocked(p *Participant) {
	if !p.entered {
		return
	}
	p.entered = false
	r.toneLocked(p, false)
}

// toneLocked plays the join (or leave) tone for p if the room's policy
// wants one and someone is there to hear it.
func (r *Room) toneLocked(p *Participant, join bool) {
	if r.closed {
		return
	}
	others, phones := 0, 0
	for _, o := range r.members {
		if o == p || !o.entered {
			continue
		}
		others++
		if o.Info.Kind == KindPhone {
			phones++
		}
	}
	if join && p.Info.Kind == KindPhone {
		phones++
	}
	if !wantTone(r.cfg.Tones, others, phones) {
		return
	}
	if join {
		r.tones.play(r.mix, r.tones.sounds.join, "join")
	} else {
		r.tones.play(r.mix, r.tones.sounds.leave, "leave")
	}
}

// The tones: two 120 ms beeps 60 ms apart, synthesized once as 20 ms PCMU
// frames.
const (
	beepMillis   = 120
	beepGapMilli = 60
	toneLevel    = 0.2 // about -14 dBFS: audible, never louder than speech
	// Join rises a fifth (C5 to G5), leave falls it.
	toneLow, toneHigh = 523, 784
)

// tones holds the encoded frames of each tone; they are read-only and
// shared by every room.
type tones struct {
	join, leave [][]byte
}

func makeTones() *tones {
	return &tones{join: beeps(toneLow, toneHigh), leave: beeps(toneHigh, toneLow)}
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
		// A 5 ms linear ramp at each end: no click.
		ramp := math.Min(1, math.Min(float64(i), float64(n-1-i))/40)
		v := toneLevel * ramp * math.Sin(2*math.Pi*hz*float64(i)/mixer.NarrowRate)
		pcm = append(pcm, int16(v*32767))
	}
	return pcm
}

// tonePlayer plays a room's tones, each from a short-lived goroutine it
// owns that feeds one more mixer input at 20 ms, as a phone would. The
// room starts tones under its lock and only while it is open; Close stops
// them and waits, before the mixer closes.
type tonePlayer struct {
	sounds *tones
	// nextID numbers the tones' mixer inputs below zero, where no member
	// ID lies, so the room ignores the mixer's talking reports about them.
	// Guarded by the room's lock.
	nextID int
	// played, when set (by tests), hears of each tone as it starts, under
	// the room's lock.
	played func(name string)

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func newTonePlayer(sounds *tones) *tonePlayer {
	return &tonePlayer{sounds: sounds, stop: make(chan struct{})}
}

// play mixes frames into mix for as long as they last. It is called under
// the room's lock: the input is added at once (a G.711 decoder and a
// jitter buffer, no heavy codec), the feeding happens on its goroutine.
func (tp *tonePlayer) play(mix *mixer.Mixer, frames [][]byte, name string) {
	tp.nextID--
	in, err := mix.Add(tp.nextID, mixer.MemberOptions{In: mixer.CodecPCMU, HasInput: true})
	if err != nil {
		return // the mixer is closed
	}
	if tp.played != nil {
		tp.played(name)
	}
	tp.wg.Add(1)
	go tp.feed(mix, in, frames)
}

// tailFrames keeps a tone in the mix a little after its last frame, for
// the jitter buffer to play it out.
const tailFrames = 10

func (tp *tonePlayer) feed(mix *mixer.Mixer, in *mixer.Member, frames [][]byte) {
	defer tp.wg.Done()
	defer mix.Remove(in)
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

// close stops every tone and waits for their goroutines. The room calls it
// once closed (no tone starts after), before closing the mixer.
func (tp *tonePlayer) close() {
	tp.stopOnce.Do(func() { close(tp.stop) })
	tp.wg.Wait()
}
