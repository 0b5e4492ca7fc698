package room

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/confd/confd/mixer"
)

// TestTalkChangesNeverStallTheMix: in a room of 200 members, one starts
// talking while the room's lock is held by someone else (a moderator's
// command, a slow observer): the mixer's tick goes on, second after second,
// and the room learns who talks once its lock is free. The room's work for
// a talk change (re-ranking slots, rebuilding rows, telling the observer)
// happens off the tick.
func TestTalkChangesNeverStallTheMix(t *testing.T) {
	rs, err := New([]Config{{Number: "3500", MaxMembers: 300, Tones: TonesNever}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	r, _ := rs.Lookup("3500")
	var speaker *mixer.Member
	var speakerP *Participant
	for i := range 200 {
		p, err := r.Join(&nobody{}, JoinInfo{Name: "m", Key: string(rune('a' + i%26))})
		if err != nil {
			t.Fatal(err)
		}
		am, err := r.JoinAudio(p, mixer.MemberOptions{In: mixer.CodecOpus, HasInput: true, Out: mixer.CodecOpus, Writer: discard{}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			speaker, speakerP = am, p
		}
	}
	enc, err := mixer.NewEncoder(mixer.CodecOpus)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, mixer.FrameSamples)
	for i := range pcm {
		pcm[i] = int16(8000 * ((i/20)%2*2 - 1)) // a loud square wave
	}
	payload := make([]byte, mixer.MaxPayload)
	n, err := enc.Encode(pcm, payload)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	fed := make(chan struct{})
	go func() { // the speaker's network reader: a packet every 20 ms
		defer close(fed)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for seq := uint16(0); !stop.Load(); seq++ {
			<-tick.C
			speaker.Push(seq, uint32(seq)*mixer.FrameSamples, payload[:n], 10, mixer.Now())
		}
	}()
	t.Cleanup(func() { stop.Store(true); <-fed })

	deadline := time.Now().Add(60 * time.Second)
	r.mu.Lock()
	start := r.mix.Stats().Ticks
	for r.mix.Stats().Ticks < start+100 { // two seconds of mixing under the held lock
		if time.Now().After(deadline) {
			r.mu.Unlock()
			t.Fatalf("the mixer ran %d ticks in a minute while the room's lock was held", r.mix.Stats().Ticks-start)
		}
		time.Sleep(10 * time.Millisecond) // poll the counter
	}
	talking := speakerP.talking
	r.mu.Unlock()
	if talking {
		t.Fatal("the room learned of the talk while its lock was held: the tick did the room's work")
	}
	for !func() bool { r.mu.Lock(); defer r.mu.Unlock(); return speakerP.talking }() {
		if time.Now().After(deadline) {
			t.Fatal("the room never learned that the speaker talks")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
