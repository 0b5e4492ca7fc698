package mixer

import (
	"math"
	"testing"
)

type nopEar struct{}

func (nopEar) WriteFrame([]byte) error { return nil }

// toneFrames encodes a second of a tone in codec c, 20 ms per payload.
func toneFrames(t testing.TB, c Codec, hz float64) [][]byte {
	enc, err := NewEncoder(c)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	pcm := make([]int16, FrameSamples)
	for f := range 50 {
		for i := range pcm {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(f*FrameSamples+i)/SampleRate))
		}
		buf := make([]byte, MaxPayload)
		n, err := enc.Encode(pcm, buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, buf[:n])
	}
	return out
}

// feeder pushes one frame per member per tick, like network readers would.
type feeder struct {
	m       *Mixer
	members []*Member
	frames  [][][]byte // per member
	levels  []int
	tick    int
}

func newFeeder(t testing.TB, m *Mixer, speakers, listeners int, codec Codec) *feeder {
	f := &feeder{m: m}
	tones := [][][]byte{toneFrames(t, codec, 440), toneFrames(t, codec, 660), toneFrames(t, codec, 880)}
	quiet := toneFrames(t, codec, 0)
	for i := range speakers + listeners {
		mb, err := m.Add(i+1, MemberOptions{In: codec, HasInput: true, Out: codec, Writer: nopEar{}})
		if err != nil {
			t.Fatal(err)
		}
		f.members = append(f.members, mb)
		if i < speakers {
			f.frames = append(f.frames, tones[i%len(tones)])
			f.levels = append(f.levels, 20) // RFC 6464: -20 dBov, talking
		} else {
			f.frames = append(f.frames, quiet)
			f.levels = append(f.levels, 127) // silence: no need to decode
		}
	}
	return f
}

// step pushes this tick's packets and runs the tick.
func (f *feeder) step() {
	f.push()
	f.m.mixOnce(int64(f.tick) * FrameMillis * 1e6)
	f.tick++
}

// push pushes this tick's packets.
func (f *feeder) push() {
	now := int64(f.tick) * FrameMillis * 1e6
	seq, ts := uint16(f.tick), uint32(f.tick*FrameSamples)
	for i, mb := range f.members {
		fr := f.frames[i]
		mb.Push(seq, ts, fr[f.tick%len(fr)], f.levels[i], now)
	}
}

// TestTickDoesNotAllocate: in steady state a mixer tick with real Opus
// codecs (3 speakers, 20 listeners, a deaf one and a loud gain) allocates
// nothing.
func TestTickDoesNotAllocate(t *testing.T) {
	for _, c := range []Codec{CodecOpus, CodecPCMU} {
		t.Run(c.String(), func(t *testing.T) {
			ev := &recordingEvents{}
			m := New(Config{Events: ev})
			f := newFeeder(t, m, 3, 20, c)
			f.members[5].SetDeaf(true)
			f.members[0].SetGain(3)
			for range 100 { // prefill, speakers selected, outputs built
				f.step()
			}
			if allocs := testing.AllocsPerRun(200, f.step); allocs != 0 {
				t.Fatalf("%.1f allocations per tick, want 0", allocs)
			}
			if s := m.Stats(); s.Encodes == 0 {
				t.Fatal("nothing was encoded")
			}
			// The talk changes waited in the mailbox, out of the tick.
			if ev.talking != 0 {
				t.Fatal("the tick called Events itself")
			}
			m.deliverDue()
			if ev.talking != 3 || ev.floor == 0 {
				t.Errorf("delivered %d talk changes and floor %d, want the 3 speakers and a floor", ev.talking, ev.floor)
			}
		})
	}
}

// recordingEvents counts what the mixer reports. The allocation test never
// starts the delivery goroutine, so reports wait in the mailbox.
type recordingEvents struct{ talking, floor int }

func (e *recordingEvents) Talking(int, bool, int) { e.talking++ }
func (e *recordingEvents) Floor(id int)           { e.floor = id }

// dtxEar is a DTXWriter that counts what it is sent and skipped.
type dtxEar struct{ sent, skipped int }

func (e *dtxEar) WriteFrame([]byte) error { e.sent++; return nil }
func (e *dtxEar) SkipFrame()              { e.skipped++ }

// TestSilenceIsNotSent: a listener that hears nothing (nobody talks) and
// can take DTX gets the first silent frame, then one every DTXKeepalive,
// the frames between skipped; once someone talks it gets every frame.
func TestSilenceIsNotSent(t *testing.T) {
	m := New(Config{})
	f := newFeeder(t, m, 0, 3, CodecOpus)
	ear := &dtxEar{}
	if _, err := m.Add(99, MemberOptions{Out: CodecOpus, Writer: ear}); err != nil {
		t.Fatal(err)
	}
	for range 2 * DTXKeepalive {
		f.step()
	}
	// Frames 1, DTXKeepalive and 2*DTXKeepalive of the silence go out.
	if ear.sent != 3 || ear.sent+ear.skipped != 2*DTXKeepalive {
		t.Fatalf("in silence: %d frames sent and %d skipped, want 3 sent of %d", ear.sent, ear.skipped, 2*DTXKeepalive)
	}
	if s := m.Stats(); s.DTXSkips < uint64(ear.skipped) {
		t.Errorf("DTXSkips %d, want at least %d", s.DTXSkips, ear.skipped)
	}

	talk := newFeeder(t, m, 1, 0, CodecOpus)
	talk.tick = f.tick
	for range 50 { // the talker is selected and heard
		f.step()
		talk.tick = f.tick
		talk.push()
	}
	sent := ear.sent
	for range 10 {
		talk.push()
		f.step()
		talk.tick = f.tick
	}
	if got := ear.sent - sent; got != 10 {
		t.Errorf("while someone talks: %d of 10 frames sent", got)
	}
}
