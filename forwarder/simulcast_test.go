package forwarder

import (
	"fmt"
	"math/rand/v2"
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

// reportingSim is a three-layer publisher whose layers' RTP timestamps
// start at unrelated points (two random, one that wraps 2^32 fifty frames
// in) on one capture clock, and which sends each layer's sender report
// once a second; the NTP era rolls over two seconds in. Its frames reach
// confd up to 20 ms late, so arrival times do not follow the capture
// clock.
func reportingSim(n *testNet) *testSim {
	sim := newSim(n, nil)
	rng := rand.New(rand.NewPCG(0x5e4d, 0x7e2))
	sim.jitter = func() int64 { return rng.Int64N(int64(20 * time.Millisecond)) }
	sim.tsShift = [3]uint32{rng.Uint32(), 0, rng.Uint32()}
	sim.tsShift[1] = -sim.src.Layers[1].Config().FirstTS - 50*ticksPerFrame
	sim.reports = &simClock{ntpBase: 1<<64 - 2<<32}
	return sim
}

// layerSwitch is one change of layer in a traced stream: the last packet
// forwarded before it and the first after.
type layerSwitch struct{ prev, cur *traced }

func layerSwitches(stream []traced) []layerSwitch {
	var sw []layerSwitch
	for i := 1; i < len(stream); i++ {
		if stream[i].in.layer != stream[i-1].in.layer {
			sw = append(sw, layerSwitch{&stream[i-1], &stream[i]})
		}
	}
	return sw
}

// alignedTS is the timestamp a switch gives when it follows the capture
// clock: the last one sent plus the capture time between the two frames.
func (p *testSim) alignedTS(s layerSwitch) uint32 {
	return s.prev.out.hdr.Timestamp + uint32(p.capture(s.cur.in)-p.capture(s.prev.in))
}

// elapsedTS is the timestamp a switch gives by the elapsed-time rule: the
// last one sent plus the time between the two packets' arrivals, at least
// one tick.
func elapsedTS(s layerSwitch) uint32 {
	return s.prev.out.hdr.Timestamp + uint32(max((s.cur.in.at-s.prev.in.at)*videoClockRate/1e9, 1))
}

// switchQFH runs a slot on sim from q to f to h, feeding each frame's
// layers largest first while it moves to f when order[0] is set and
// while it moves to h when order[1] is; idle runs before the first
// switch. It returns the slot's stream, checked.
func switchQFH(t *testing.T, n *testNet, sim *testSim, order [2]bool, idle func()) []traced {
	t.Helper()
	n.run(3, sim)
	dt, rec := slotOn(t, sim.r, 7, 320, 180)
	n.run(20, sim)
	if idle != nil {
		idle()
	}
	sim.largestFirst = order[0]
	dt.SetRenderSize(1280, 720)
	n.run(20, sim)
	sim.largestFirst = order[1]
	dt.SetRenderSize(640, 360)
	n.run(20, sim)
	stream := n.checkStream(t, "slot", rec.sent(), 7)
	if got := layers(stream); !slices.Equal(got, []int{0, 2, 1}) {
		t.Fatalf("layers %v, want [0 2 1]", got)
	}
	return stream
}

// TestSimulcastSwitchFollowsSenderReports: a slot moving q -> f -> h on a
// publisher that reports every layer's clock carries, on every frame,
// exactly the timestamp one continuous stream of that publisher would:
// the frame's capture time at 90 kHz plus one fixed offset, although the
// layers' timestamps start at unrelated points (one wraps) and the NTP
// era rolls over. The elapsed-time rule would have given other values.
func TestSimulcastSwitchFollowsSenderReports(t *testing.T) {
	n := newTestNet(t)
	sim := reportingSim(n)
	// Each new layer's key frame arrives before the frame of the same
	// instant of the layer it replaces.
	stream := switchQFH(t, n, sim, [2]bool{true, false}, nil)
	first := &stream[0]
	for i := range stream {
		c := &stream[i]
		if want := first.out.hdr.Timestamp + uint32(sim.capture(c.in)-sim.capture(first.in)); c.out.hdr.Timestamp != want {
			t.Fatalf("packet %d (layer %d, capture tick %d): timestamp %d, want %d",
				i, c.in.layer, sim.capture(c.in), c.out.hdr.Timestamp, want)
		}
	}
	sw := layerSwitches(stream)
	if len(sw) != 2 {
		t.Fatalf("%d switches, want 2", len(sw))
	}
	for i, s := range sw {
		if elapsedTS(s) == sim.alignedTS(s) {
			t.Errorf("switch %d: the elapsed-time rule gives the same timestamp; the test proves nothing", i)
		}
	}
}

// TestSimulcastSwitchFallsBackToElapsed: a switch follows the sender
// reports only when both layers have a fresh one and the result moves
// the output forward by a plausible amount; otherwise it advances the
// timestamp by the elapsed time.
func TestSimulcastSwitchFallsBackToElapsed(t *testing.T) {
	tests := []struct {
		intent string
		// order is switchQFH's feeding order; setup changes the
		// publisher before it starts; idle is run before the first switch.
		order   [2]bool
		setup   func(sim *testSim)
		idle    func(n *testNet, sim *testSim)
		aligned [2]bool // q -> f, f -> h
	}{
		{
			intent:  "Without sender reports every switch follows the elapsed time.",
			order:   [2]bool{true, false},
			setup:   func(sim *testSim) { sim.reports = nil },
			aligned: [2]bool{false, false},
		},
		{
			intent:  "A layer that never reported (h) takes the elapsed time; the switch between two reporting layers still follows the reports.",
			order:   [2]bool{true, false},
			setup:   func(sim *testSim) { sim.reports.skip[1] = true },
			aligned: [2]bool{true, false},
		},
		{
			intent: "Reports received more than 10 s before a switch are stale.",
			order:  [2]bool{true, false},
			idle: func(n *testNet, sim *testSim) {
				sim.reports = nil
				n.run(310, sim)
			},
			aligned: [2]bool{false, false},
		},
		{
			intent: "Reports received 9 s before a switch still count.",
			order:  [2]bool{true, false},
			idle: func(n *testNet, sim *testSim) {
				sim.reports = nil
				n.run(240, sim)
			},
			aligned: [2]bool{true, true},
		},
		{
			intent: "A key frame of the instant whose frame was just forwarded would repeat its timestamp: it takes the elapsed time.",
			// Smallest first: q's frame goes out, then f's key frame of
			// the same capture; h's key frame still comes before f's.
			order:   [2]bool{false, false},
			aligned: [2]bool{false, true},
		},
		{
			intent: "A report 5 s off puts the new layer too far ahead, then the next one behind the last timestamp: both take the elapsed time.",
			order:  [2]bool{true, false},
			setup: func(sim *testSim) {
				sim.reports.skew[2] = 5 * videoClockRate
			},
			aligned: [2]bool{false, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.intent, func(t *testing.T) {
			n := newTestNet(t)
			sim := reportingSim(n)
			if tt.setup != nil {
				tt.setup(sim)
			}
			var idle func()
			if tt.idle != nil {
				idle = func() { tt.idle(n, sim) }
			}
			sw := layerSwitches(switchQFH(t, n, sim, tt.order, idle))
			if len(sw) != 2 {
				t.Fatalf("%d switches, want 2", len(sw))
			}
			for i, s := range sw {
				aligned, elapsed := sim.alignedTS(s), elapsedTS(s)
				if aligned == elapsed {
					t.Fatalf("switch %d: both rules give %d; the test proves nothing", i, aligned)
				}
				want, rule := elapsed, "elapsed time"
				if tt.aligned[i] {
					want, rule = aligned, "sender reports"
				}
				if got := s.cur.out.hdr.Timestamp; got != want {
					t.Errorf("switch %d (layer %d -> %d): timestamp %d, want %d by the %s (aligned %d, elapsed %d)",
						i, s.prev.in.layer, s.cur.in.layer, got, want, rule, aligned, elapsed)
				}
			}
		})
	}
}

// TestSenderReportByLayer: a Receiver files each sender report under the
// layer with its SSRC, stamped with its clock; it ignores other SSRCs and
// the reports of a layer that has sent nothing for over a second (or
// nothing at all).
func TestSenderReportByLayer(t *testing.T) {
	src := forwardertest.NewSimulcast(forwardertest.SimulcastConfig{SSRCs: simSSRCs})
	r := unstartedReceiver(ReceiverConfig{SSRC: simSSRCs[0], Kind: KindVideo}, simSSRCs[1], simSSRCs[2])
	now := int64(42 * time.Second)
	r.clock = func() int64 { return now }
	frames := src.NextFrame()
	r.handleLayer(r.layer(2), frames[2][0], now-int64(500*time.Millisecond))
	r.handleLayer(r.layer(0), frames[0][0], now+int64(500*time.Millisecond))
	r.SenderReport(simSSRCs[2], 0xaa<<32, 1234)
	r.SenderReport(simSSRCs[1], 0xa1<<32, 1)
	now += int64(time.Second)
	r.SenderReport(simSSRCs[0], 0xbb<<32, 5678)
	r.SenderReport(simSSRCs[2], 0xab<<32, 4321) // 1.5 s after its last packet
	r.SenderReport(0x99, 0xcc<<32, 9)
	want := []SenderReport{
		{NTP: 0xbb << 32, RTP: 5678, Arrival: 43 * int64(time.Second)},
		{},
		{NTP: 0xaa << 32, RTP: 1234, Arrival: 42 * int64(time.Second)},
		{},
	}
	for i, w := range want {
		if got := r.senderReport(i); got != w {
			t.Errorf("layer %d: %+v, want %+v", i, got, w)
		}
	}
}

// TestReportedSwitchDoesNotAllocate: slots switching between layers of a
// publisher that reports its clocks allocate nothing per packet, sender
// reports arriving meanwhile included.
func TestReportedSwitchDoesNotAllocate(t *testing.T) {
	const slots, warmup, runs = 30, 300, 1000
	src, pkts, layerOf := simulcastPackets(2*(warmup+runs) + 30)
	r := unstartedReceiver(ReceiverConfig{SSRC: simSSRCs[0], Kind: KindVideo}, simSSRCs[1], simSSRCs[2])
	now := int64(time.Hour)
	r.clock = func() int64 { return now }
	clock := simClock{ntpBase: 3900000000 << 32}
	report := func() {
		for i, l := range src.Layers {
			r.SenderReport(simSSRCs[i], clock.ntpAt(0), l.Config().FirstTS)
		}
	}
	report()
	sizes := [3][2]int{{320, 180}, {640, 360}, {1280, 720}}
	dts := make([]*DownTrack, slots)
	for j := range dts {
		dts[j] = NewDownTrack("v", "s")
		bindNop(t, dts[j], uint32(j+1))
		dts[j].SetRenderSize(sizes[j%3][0], sizes[j%3][1])
		dts[j].SetSource(r)
	}
	i := 0
	step := func() {
		if i%100 == 0 {
			report()
		}
		r.handleLayer(r.layer(layerOf[i]), pkts[i], now)
		i++
		now += int64(time.Millisecond)
	}
	for range warmup {
		step()
	}
	for j, dt := range dts {
		dt.SetRenderSize(sizes[(j+1)%3][0], sizes[(j+1)%3][1])
	}
	if got := testing.AllocsPerRun(runs, step); got != 0 {
		t.Errorf("%v allocations per packet, want 0", got)
	}
	for j, dt := range dts {
		if st := dt.Stats(); st.Switches < 2 || st.Current.Spatial != (j+1)%3 {
			t.Fatalf("slot %d did not switch: %+v", j, st)
		}
	}
}
