package forwarder

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/confd/confd/forwarder/forwardertest"
)

// TestSwitchKeyframeWait: on a running Receiver, a switch up to f waits
// for the publisher's own key frame of f while one is due within
// SwitchKeyframeWait of the last, and asks for none when it comes; a
// switch after a longer silence asks at once, and so does any other
// request (a slot with no picture).
func TestSwitchKeyframeWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &timedRTCP{start: time.Now()}
		const wait = 4 * time.Second
		r := NewReceiver(ReceiverConfig{Kind: KindVideo, KeyframeInterval: keyframeInterval, SwitchKeyframeWait: wait}, up)
		readers := make([]*blockingReader, 3)
		defer func() {
			r.Close()
			for _, s := range readers {
				if s != nil {
					s.close()
				}
			}
			<-r.Done()
		}()
		for i := range readers {
			readers[i] = newBlockingReader()
			if err := r.AddLayer(i, forwardertest.SimulcastRIDs[i], simSSRCs[i], readers[i]); err != nil {
				t.Fatal(err)
			}
		}
		src := forwardertest.NewSimulcast(forwardertest.SimulcastConfig{SSRCs: simSSRCs, KeyframeInterval: 1 << 20})
		f := r.layers[2].Load()
		keyframe := func() { // the publisher's own key frame of f
			src.Layers[2].ForceKeyframe()
			for _, raw := range src.Layers[2].NextFrame() {
				r.handleLayer(f, raw, r.clock())
			}
		}
		keyframe()
		advance(time.Second)
		r.RequestSwitchKeyframe(2)
		advance(2 * time.Second) // 3 s since the key frame
		if n := len(up.sentAt()); n != 0 {
			t.Fatalf("%d PLIs before the wait is over", n)
		}
		keyframe() // the publisher's own, before the wait is over
		advance(2 * wait)
		if n := len(up.sentAt()); n != 0 {
			t.Fatalf("%d PLIs after the publisher's own key frame served the switch", n)
		}
		r.RequestSwitchKeyframe(2) // 8 s since the last key frame
		synctest.Wait()
		if got := up.sentAt(); len(got) != 1 || got[0] != 11*time.Second {
			t.Fatalf("PLIs at %v, want one at once, at 11s", got)
		}
		keyframe()
		advance(time.Second)
		r.RequestLayerKeyframe(2) // a slot with no picture: at once
		synctest.Wait()
		if got := up.sentAt(); len(got) != 2 || got[1] != 12*time.Second {
			t.Fatalf("PLIs at %v, want a second one at 12s", got)
		}
	})
}
