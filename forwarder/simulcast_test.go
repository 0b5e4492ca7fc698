package forwarder

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/rtcp"

	"github.com/confd/confd/forwarder/forwardertest"
)

var simSSRCs = [3]uint32{0x51, 0x52, 0x53}

// newSim is a three-layer publisher with temporal layers, key frames every
// 90 frames unless asked, answering requests two frames late.
func newSim(n *testNet, lose func(layer int, seq uint16) bool) *testSim {
	return n.simulcast(forwardertest.SimulcastConfig{SSRCs: simSSRCs, TemporalLayers: true, KeyframeInterval: 90, Lose: lose}, 2)
}

// slotOn is a bound slot shown at w x h, watching src.
func slotOn(t *testing.T, src *Receiver, ssrc uint32, w, h int) (*DownTrack, *recorder) {
	t.Helper()
	dt := NewDownTrack(fmt.Sprintf("v%d", ssrc), "s")
	rec, _ := bindTrack(t, dt, ssrc)
	dt.SetRenderSize(w, h)
	dt.SetSource(src)
	return dt, rec
}

// TestSimulcastLayerBySize: each slot forwards the smallest layer that
// covers the size it is shown at, the largest when the size is unknown,
// and every output is one continuous stream. A slot may begin on a
// smaller layer whose key frame came first (the small slots asked for
// one), then moves up.
func TestSimulcastLayerBySize(t *testing.T) {
	n := newTestNet(t)
	sim := newSim(n, nil)
	n.run(5, sim)
	cases := []struct{ w, h, want int }{{320, 180, 0}, {160, 90, 0}, {640, 360, 1}, {1280, 720, 2}, {0, 0, 2}, {1920, 1080, 2}}
	recs := make([]*recorder, len(cases))
	for i, c := range cases {
		_, recs[i] = slotOn(t, sim.r, uint32(100+i), c.w, c.h)
	}
	n.run(40, sim)
	for i, c := range cases {
		name := fmt.Sprintf("slot %dx%d", c.w, c.h)
		stream := n.checkStream(t, name, recs[i].sent(), uint32(100+i))
		got := layers(stream)
		if got[len(got)-1] != c.want || len(got) > 2 || got[0] > c.want {
			t.Errorf("%s: layers %v, want [%d] (after at most one smaller)", name, got, c.want)
		}
	}
}

// TestSimulcastSwitchOnKeyframe: a slot resized up and down changes layer
// only at a key frame of the layer it moves to, asks for exactly one key
// frame per switch, and stays one stream: sequence numbers +1, timestamps
// rising, picture ID and TL0PICIDX continuous.
func TestSimulcastSwitchOnKeyframe(t *testing.T) {
	n := newTestNet(t)
	sim := newSim(n, nil)
	n.run(3, sim)
	dt, rec := slotOn(t, sim.r, 7, 320, 180)
	n.run(20, sim)
	for _, size := range [][2]int{{1280, 720}, {640, 360}, {320, 180}, {1280, 720}} {
		dt.SetRenderSize(size[0], size[1])
		n.run(20, sim)
	}
	stream := n.checkStream(t, "slot", rec.sent(), 7)
	if got, want := layers(stream), []int{0, 2, 1, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("layers %v, want %v", got, want)
	}
	// One key frame per switch: q at the start (its first frame came long
	// before) and when the slot came back to it, f twice, h once.
	if got, want := sim.forced, [3]int{2, 1, 2}; got != want {
		t.Errorf("key frames made on request per layer %v, want %v", got, want)
	}
	if st := dt.Stats(); st.Switches != 5 || st.Current != (Layer{2, MaxTemporalLayers - 1}) {
		t.Errorf("stats %+v", st)
	}
}

// TestSimulcastTemporal: a slot limited to the base temporal layer
// forwards only TID 0 frames with consecutive picture IDs, and takes the
// higher temporal layers back from a layer sync frame on.
func TestSimulcastTemporal(t *testing.T) {
	n := newTestNet(t)
	sim := newSim(n, nil)
	n.run(3, sim)
	dt, rec := slotOn(t, sim.r, 9, 1280, 720)
	dt.setLimit(Layer{Spatial: 2, Temporal: 0})
	n.run(24, sim)
	base := len(rec.sent())
	dt.setLimit(Layer{Spatial: 2, Temporal: 1})
	n.run(12, sim)
	mid := len(rec.sent())
	dt.setLimit(Layer{Spatial: 2, Temporal: 2})
	n.run(12, sim)
	stream := n.checkStream(t, "slot", rec.sent(), 9)
	maxTID := func(s []traced) (m uint8, frames int) {
		for _, c := range s {
			m = max(m, c.desc.TID)
			if c.desc.Start {
				frames++
			}
		}
		return m, frames
	}
	if m, f := maxTID(stream[:base]); m != 0 || f < 5 {
		t.Errorf("limited to TID 0: highest TID %d over %d frames", m, f)
	}
	if m, _ := maxTID(stream[base:mid]); m != 1 {
		t.Errorf("limited to TID 1: highest TID %d", m)
	}
	if m, f := maxTID(stream[mid:]); m != 2 || f < 10 {
		t.Errorf("unlimited: highest TID %d over %d frames", m, f)
	}
	if got := layers(stream); !slices.Equal(got, []int{2}) {
		t.Errorf("layers %v, want [2]: temporal changes need no spatial switch", got)
	}
	if st := dt.Stats(); st.FramesDropped == 0 || st.Switches != 1 {
		t.Errorf("stats %+v: want dropped frames and one switch", st)
	}
}

// TestSimulcastLoss: with packets lost on every layer the slot still
// switches only at key frames, and its output has gaps exactly where
// input was lost (for the subscriber to NACK), nowhere else.
func TestSimulcastLoss(t *testing.T) {
	n := newTestNet(t)
	sim := newSim(n, func(layer int, seq uint16) bool { return seq%11 == uint16(layer) })
	n.run(3, sim)
	dt, rec := slotOn(t, sim.r, 11, 640, 360)
	n.run(30, sim)
	dt.SetRenderSize(1280, 720)
	n.run(30, sim)
	dt.SetRenderSize(320, 180)
	n.run(30, sim)
	stream := n.checkStream(t, "slot", rec.sent(), 11)
	if got := layers(stream); len(got) < 3 || got[len(got)-1] != 0 || !slices.Contains(got, 2) {
		t.Errorf("layers %v: want 1, 2, then 0", got)
	}
	if len(n.lost) == 0 {
		t.Fatal("nothing was lost")
	}
}

// TestSimulcastSwitchStorm: a hundred slots on one publisher switching
// layer at once cost one key frame request per layer they move to.
func TestSimulcastSwitchStorm(t *testing.T) {
	n := newTestNet(t)
	sim := newSim(n, nil)
	n.run(3, sim)
	dts := make([]*DownTrack, 100)
	recs := make([]*recorder, len(dts))
	for i := range dts {
		dts[i], recs[i] = slotOn(t, sim.r, uint32(200+i), 320, 180)
	}
	n.run(10, sim)
	for _, dt := range dts {
		dt.SetRenderSize(1280, 720)
	}
	n.run(20, sim)
	if got, want := sim.forced, [3]int{1, 0, 1}; got != want {
		t.Errorf("key frames made on request per layer %v, want %v", got, want)
	}
	for i, rec := range recs {
		if got := layers(n.checkStream(t, fmt.Sprint("slot ", i), rec.sent(), uint32(200+i))); !slices.Equal(got, []int{0, 2}) {
			t.Fatalf("slot %d: layers %v", i, got)
		}
	}
}

// TestLayerKeyframeThrottle: on a running Receiver with three layers, a
// hundred slots resized together send one PLI at once, for the layer they
// move to, and at most one more a throttle interval later (requests that
// raced the first); the PLIs name that layer's SSRC.
func TestLayerKeyframeThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &timedRTCP{start: time.Now()}
		r := NewReceiver(ReceiverConfig{Kind: KindVideo, KeyframeInterval: keyframeInterval}, up)
		srcs := make([]*blockingReader, 3)
		for i := range srcs {
			srcs[i] = newBlockingReader()
			if err := r.AddLayer(i, forwardertest.SimulcastRIDs[i], simSSRCs[i], srcs[i]); err != nil {
				t.Fatal(err)
			}
		}
		dts := make([]*DownTrack, 100)
		for i := range dts {
			dts[i] = NewDownTrack("v", "s")
			dts[i].SetRenderSize(320, 180)
			dts[i].SetSource(r)
		}
		synctest.Wait()
		advance(2 * keyframeInterval)
		for _, dt := range dts {
			dt.SetRenderSize(1280, 720)
		}
		synctest.Wait()
		advance(10 * keyframeInterval)
		var got []string
		for i, p := range up.packets() {
			pli, ok := p.(*rtcp.PictureLossIndication)
			if !ok {
				t.Fatalf("sent %v", p)
			}
			got = append(got, fmt.Sprintf("%#x@%v", pli.MediaSSRC, up.sentAt()[i]))
		}
		for _, burst := range []struct {
			ssrc uint32
			at   time.Duration
		}{{simSSRCs[0], 0}, {simSSRCs[2], 2 * keyframeInterval}} {
			first, again := fmt.Sprintf("%#x@%v", burst.ssrc, burst.at), fmt.Sprintf("%#x@%v", burst.ssrc, burst.at+keyframeInterval)
			if len(got) == 0 || got[0] != first {
				t.Fatalf("PLIs %v, want %s next", got, first)
			}
			got = got[1:]
			if len(got) > 0 && got[0] == again {
				got = got[1:]
			}
		}
		if len(got) > 0 {
			t.Errorf("more PLIs: %v", got)
		}
		r.Close()
		for _, s := range srcs {
			s.close()
		}
		<-r.Done()
	})
}
