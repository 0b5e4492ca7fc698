package mixer

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// timelineEar is a DTXWriter that notes the room tick of every frame it is
// sent. It is called on the mixer goroutine, so it may read the mixer's
// tick count; the lock is for the test reading what it noted (the race
// detector does not see synctest's clock order the two).
type timelineEar struct {
	m       *Mixer
	mu      sync.Mutex
	at      []int64
	skipped int
}

func (e *timelineEar) WriteFrame([]byte) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.at = append(e.at, e.m.seq)
	return nil
}

func (e *timelineEar) SkipFrame() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.skipped++
}

// sentAt is the ticks the listener was sent frames on.
func (e *timelineEar) sentAt() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.at)
}

// frames is how many frames were sent or skipped.
func (e *timelineEar) frames() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.at) + e.skipped
}

// TestSilentRoomParks: in a room where nobody sends, the mixer's clock
// sleeps from one DTX keep-alive to the next, every listener's keep-alive
// on the same tick, and every tick is still accounted for (the listener's
// timestamps move on). A member joining gets its first silent frame at
// once; a packet wakes the room, and the voice is heard on every tick
// until the room falls silent and parks again.
func TestSilentRoomParks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(Config{})
		(&exactCodec{}).install(m)
		var ears []*timelineEar
		var mbs []*Member
		add := func() {
			e := &timelineEar{m: m}
			mb, err := m.Add(len(ears)+1, MemberOptions{In: CodecOpus, HasInput: true, Out: CodecOpus, Writer: e})
			if err != nil {
				t.Fatal(err)
			}
			ears, mbs = append(ears, e), append(mbs, mb)
		}
		for range 3 {
			add()
		}
		m.Start()
		defer m.Close()
		// parkAgain lets the room, woken to look at it, park again, so
		// that the next step's wake-up is its own.
		parkAgain := func() {
			t.Helper()
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
			if !m.parked.Load() {
				t.Fatal("the silent room did not park again")
			}
		}

		time.Sleep(2*time.Second + 10*time.Millisecond)
		m.unpark() // account for the ticks passed so far
		synctest.Wait()
		s := m.Stats()
		if s.Ticks != 100 || s.Parked < 95 {
			t.Fatalf("2 s of a silent room: %d ticks, %d of them parked; want 100, nearly all parked", s.Ticks, s.Parked)
		}
		want := []int64{1, 20, 40, 60, 80, 100}
		for i, e := range ears {
			if !slices.Equal(e.sentAt(), want) || e.frames() != 100 {
				t.Fatalf("listener %d was sent frames on ticks %v and %d frames in all; want %v of 100", i, e.sentAt(), e.frames(), want)
			}
		}

		// A member joins mid-silence: its first silent frame goes out at
		// once, its keep-alives then fall with everyone else's.
		parkAgain()
		add()
		synctest.Wait()
		if got := ears[3].sentAt(); len(got) != 1 {
			t.Fatalf("a member joining a parked room was sent %d frames at once, want its first silent frame", len(got))
		}
		time.Sleep(1200 * time.Millisecond)
		m.unpark()
		synctest.Wait()
		// The ticks that passed while parked count from its first frame.
		if got := ears[3].sentAt(); !slices.Equal(got, []int64{102, 120, 140, 160}) {
			t.Fatalf("the member who joined after tick 105 was sent frames on ticks %v; want 102, 120, 140, 160", got)
		}

		// Member 1 talks for a second: a packet wakes the room, the others
		// hear every tick of it.
		parkAgain()
		sent := len(ears[1].sentAt())
		for i := range 50 {
			mbs[0].Push(uint16(i), uint32(i*FrameSamples), []byte{100, 40}, 10, Now())
			time.Sleep(20 * time.Millisecond)
		}
		synctest.Wait()
		if got := len(ears[1].sentAt()) - sent; got < 48 {
			t.Fatalf("a listener was sent %d frames during 50 ticks of a voice; want every one", got)
		}
		parked := m.Stats().Parked

		// Silent again: the talk hangs over, then the room parks.
		time.Sleep(2 * time.Second)
		m.unpark()
		synctest.Wait()
		s = m.Stats()
		if s.Parked-parked < 60 {
			t.Fatalf("%d ticks parked in the 2 s after the voice stopped; want most of the 100", s.Parked-parked)
		}
		for i, e := range ears {
			if e.frames() != int(s.Ticks)-ticksBefore(i) {
				t.Fatalf("listener %d: %d frames sent or skipped in %d ticks", i, e.frames(), s.Ticks)
			}
		}

		// A recorder's tap wakes the room: it is shown every tick's mix.
		parkAgain()
		tap := &countingTap{}
		m.SetTap(tap)
		synctest.Wait() // the ticks passed while parked are accounted
		s = m.Stats()
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		if got := tap.mixes.Load(); got < 9 {
			t.Fatalf("a tap set on a parked room saw %d mixes in 10 ticks", got)
		}
		if p := m.Stats().Parked; p != s.Parked {
			t.Fatalf("%d ticks parked while a tap was set", p-s.Parked)
		}
	})
}

// countingTap counts the mixes it is shown.
type countingTap struct {
	nopTap
	mixes atomic.Int64
}

func (c *countingTap) Mix(int64, []byte) { c.mixes.Add(1) }

// ticksBefore is how many ticks TestSilentRoomParks ran before listener i
// joined.
func ticksBefore(i int) int {
	if i == 3 {
		return 101 // it joined while ticks 102..105 were parked, accounted on its joining
	}
	return 0
}

// countingBurst is a Burster that counts holds and releases and notes
// every frame written while nobody held.
type countingBurst struct {
	depth, holds, releases, unheld atomic.Int32
}

func (b *countingBurst) Hold()    { b.depth.Add(1); b.holds.Add(1) }
func (b *countingBurst) Release() { b.depth.Add(-1); b.releases.Add(1) }

// heldEar is a listener that tells b of frames written outside a burst.
type heldEar struct {
	b    *countingBurst
	sent atomic.Int32
}

func (e *heldEar) WriteFrame([]byte) error {
	e.sent.Add(1)
	if e.b.depth.Load() <= 0 {
		e.b.unheld.Add(1)
	}
	return nil
}

func (e *heldEar) SkipFrame() {}

// TestTickWritesInOneBurst: every frame the mixer writes, on mixing ticks
// while a member talks and on a parked room's keep-alives, is written
// inside a burst, and every Hold is released.
func TestTickWritesInOneBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &countingBurst{}
		m := New(Config{Burst: b})
		(&exactCodec{}).install(m)
		var ears []*heldEar
		var talker *Member
		for i := range 3 {
			e := &heldEar{b: b}
			mb, err := m.Add(i+1, MemberOptions{In: CodecOpus, HasInput: true, Out: CodecOpus, Writer: e})
			if err != nil {
				t.Fatal(err)
			}
			ears = append(ears, e)
			talker = mb
		}
		m.Start()
		for i := range 25 {
			talker.Push(uint16(i), uint32(i*FrameSamples), []byte{100, 40}, 10, Now())
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(2 * time.Second) // silent again: parked, keep-alives only
		synctest.Wait()
		m.Close()
		for i, e := range ears[:2] { // the third is the talker, who hears silence
			if e.sent.Load() < 25 {
				t.Fatalf("listener %d was sent %d frames, want the voice's", i, e.sent.Load())
			}
		}
		if n := b.unheld.Load(); n != 0 {
			t.Errorf("%d frames written outside a burst", n)
		}
		if h, r := b.holds.Load(), b.releases.Load(); h == 0 || h != r {
			t.Errorf("%d holds, %d releases", h, r)
		}
	})
}
