package mixer

import (
	"testing"
	"time"
)

// tapLog records what a Tap is shown.
type tapLog struct {
	inputs  map[int][]tapInput
	mixes   int
	talking map[int][]bool
}

type tapInput struct {
	status  FrameStatus
	payload []byte
	mixed   bool
}

func newTapLog() *tapLog {
	return &tapLog{inputs: map[int][]tapInput{}, talking: map[int][]bool{}}
}

func (l *tapLog) Input(_ int64, id int, _ Codec, status FrameStatus, payload []byte, mixed bool) {
	l.inputs[id] = append(l.inputs[id], tapInput{status, append([]byte(nil), payload...), mixed})
}

func (l *tapLog) Mix(_ int64, payload []byte) {
	if len(payload) > 0 {
		l.mixes++
	}
}

func (l *tapLog) Talking(_ int64, id int, talking bool) {
	l.talking[id] = append(l.talking[id], talking)
}

// TestTapSeesEveryInputTheMixAndTalking: each tick the tap gets every
// member's frame as sent (marked unmixed while muted), one mix, and the
// talking reports the room gets.
func TestTapSeesEveryInputTheMixAndTalking(t *testing.T) {
	r := newTestRoom(t, 3)
	a, b := r.add(40, 7), r.add(0, 2)
	log := newTapLog()
	r.m.SetTap(log)
	r.run(20)
	a.mb.SetMuted(true)
	r.run(5)
	r.m.SetTap(nil)
	r.run(5)
	if got := len(log.inputs[a.mb.ID()]); got != 25 {
		t.Fatalf("the tap saw %d of a's frames in 25 ticks", got)
	}
	if got := len(log.inputs[b.mb.ID()]); got != 25 {
		t.Fatalf("the tap saw %d of b's frames in 25 ticks", got)
	}
	last := log.inputs[a.mb.ID()][24]
	if last.status != FramePlay || last.mixed || last.payload[0] != 40 {
		t.Fatalf("a muted: %+v, want its frame, unmixed", last)
	}
	if got := log.inputs[a.mb.ID()][10]; !got.mixed || got.payload[0] != 40 || got.payload[1] != 7 {
		t.Fatalf("a talking: %+v, want its own payload, mixed", got)
	}
	if log.mixes != 25 {
		t.Fatalf("%d mixes in 25 ticks", log.mixes)
	}
	if got := log.talking[a.mb.ID()]; len(got) == 0 || !got[0] {
		t.Fatalf("a's talking reports: %v", got)
	}
}

// TestEchoPlaysOwnVoiceBack: in an echo test each member hears exactly its
// own voice, EchoDelay after the jitter buffer played it, and nobody
// else's; a muted member hears itself no more.
func TestEchoPlaysOwnVoiceBack(t *testing.T) {
	r := &room{t: t, m: New(Config{EchoDelay: 500 * time.Millisecond}), c: &exactCodec{}}
	r.c.install(r.m)
	a, b := r.add(40, 7), r.add(30, 11)
	log := newTapLog()
	r.m.SetTap(log)
	firstHeard := -1
	for tick := range 60 {
		r.tick()
		if firstHeard < 0 && a.ear.last != nil && a.ear.last[1] != 0 {
			firstHeard = tick
		}
	}
	firstPlayed := -1
	for i, in := range log.inputs[a.mb.ID()] {
		if in.status == FramePlay {
			firstPlayed = i
			break
		}
	}
	if delay := firstHeard - firstPlayed; firstPlayed < 0 || delay != 25 {
		t.Fatalf("a heard itself %d ticks after its first frame played, want 25 (500 ms)", delay)
	}
	samePCM(t, "a", a.ear.last, want(a.ear.last, a))
	samePCM(t, "b", b.ear.last, want(b.ear.last, b))
	a.mb.SetMuted(true)
	r.run(30)
	samePCM(t, "a muted", a.ear.last, make([]int16, FrameSamples))
}

type nopTap struct{}

func (nopTap) Input(int64, int, Codec, FrameStatus, []byte, bool) {}
func (nopTap) Mix(int64, []byte)                                  {}
func (nopTap) Talking(int64, int, bool)                           {}

// TestTickWithTapDoesNotAllocate: a tap costs the tick no allocation (the
// recorder's own taps are checked in package recorder), and neither does
// the echo test's tick.
func TestTickWithTapDoesNotAllocate(t *testing.T) {
	for name, cfg := range map[string]Config{"mix": {}, "echo": {EchoDelay: 500 * time.Millisecond}} {
		t.Run(name, func(t *testing.T) {
			m := New(cfg)
			m.SetTap(nopTap{})
			f := newFeeder(t, m, 3, 5, CodecOpus)
			for range 100 {
				f.step()
			}
			if allocs := testing.AllocsPerRun(200, f.step); allocs != 0 {
				t.Fatalf("%.1f allocations per tick, want 0", allocs)
			}
		})
	}
}
