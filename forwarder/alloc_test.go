package forwarder

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
)

// sourcePackets returns at least count packets of src, whole frames.
func sourcePackets(src *forwardertest.VP8Source, count int) [][]byte {
	var pkts [][]byte
	for len(pkts) < count {
		pkts = append(pkts, src.NextFrame()...)
	}
	return pkts
}

// bindNop binds dt to a writer that discards, as pion's would for a peer.
func bindNop(tb testing.TB, dt *DownTrack, ssrc uint32) { bindWriter(tb, dt, ssrc, nopWriter{}) }

// bindWriter binds dt to w, VP8 negotiated.
func bindWriter(tb testing.TB, dt *DownTrack, ssrc uint32, w webrtc.TrackLocalWriter) {
	tb.Helper()
	ctx := &fakeTrackContext{
		id:     fmt.Sprint(ssrc),
		ssrc:   webrtc.SSRC(ssrc),
		codecs: []webrtc.RTPCodecParameters{vp8Codec(negotiatedPT)},
		w:      w,
	}
	if _, err := dt.Bind(ctx); err != nil {
		tb.Fatal(err)
	}
}

// replay hands r the packets one per call, 1 ms apart, as its reader
// goroutine would.
func replay(r *Receiver, pkts [][]byte) func() {
	i, now := 0, int64(time.Hour)
	return func() {
		r.handle(pkts[i], now)
		i++
		now += int64(time.Millisecond)
	}
}

// TestForwardDoesNotAllocate checks that, after warm-up, Receiver.handle
// fanning a packet out to 50 bound slots allocates nothing: with zero
// offsets (the payload goes out as received) and after a source switch (the
// descriptor is rewritten into the reader's scratch).
func TestForwardDoesNotAllocate(t *testing.T) {
	const subs, warmup, runs = 50, 100, 1000
	a := unstartedReceiver(ReceiverConfig{SSRC: 0xA})
	b := unstartedReceiver(ReceiverConfig{SSRC: 0xB})
	fromA := sourcePackets(forwardertest.NewVP8Source(forwardertest.VP8Config{SSRC: 0xA, TemporalLayers: true}), warmup+runs+1)
	fromB := sourcePackets(forwardertest.NewVP8Source(forwardertest.VP8Config{SSRC: 0xB, TemporalLayers: true,
		FirstSeq: 40000, FirstPictureID: 1000, FirstTL0PICIDX: 77}), warmup+runs+1)
	dts := make([]*DownTrack, subs)
	for i := range dts {
		dts[i] = NewDownTrack("v", "s")
		bindNop(t, dts[i], uint32(i+1))
		dts[i].SetSource(a)
	}

	stepA := replay(a, fromA)
	for range warmup {
		stepA()
	}
	if got := testing.AllocsPerRun(runs, stepA); got != 0 {
		t.Errorf("zero offsets: %v allocations per packet, want 0", got)
	}
	if s := dts[0].munger.cur; s.pid != 0 || s.tl0 != 0 || dts[0].Stats().Packets == 0 {
		t.Fatalf("zero-offset phase did not forward with zero offsets: %+v", s)
	}

	for _, dt := range dts {
		dt.SetSource(b)
	}
	stepB := replay(b, fromB)
	for range warmup {
		stepB()
	}
	if got := testing.AllocsPerRun(runs, stepB); got != 0 {
		t.Errorf("after a switch: %v allocations per packet, want 0", got)
	}
	if s := dts[0].munger.cur; s.src != b || (s.pid == 0 && s.tl0 == 0) {
		t.Fatalf("switch phase did not rewrite descriptors: %+v", s)
	}
}

// simulcastPackets is at least n packets of the synthetic three-layer
// source (temporal layers, a key frame every 10 frames), frame by frame,
// with the layer of each, and the source.
func simulcastPackets(n int) (src *forwardertest.Simulcast, pkts [][]byte, layerOf []int) {
	src = forwardertest.NewSimulcast(forwardertest.SimulcastConfig{SSRCs: simSSRCs, TemporalLayers: true, KeyframeInterval: 10})
	for len(pkts) < n {
		for i, f := range src.NextFrame() {
			for _, p := range f {
				pkts = append(pkts, p)
				layerOf = append(layerOf, i)
			}
		}
	}
	return src, pkts, layerOf
}

// TestSimulcastForwardDoesNotAllocate checks that a three-layer Receiver
// fanning out to 60 slots (20 per layer, half of the largest limited to
// the base temporal layer, so frames are left out, one per layer probing
// with padding) allocates nothing per packet after warm-up, on every
// layer's reader path, including the packets that cross layer switches.
func TestSimulcastForwardDoesNotAllocate(t *testing.T) {
	const perLayer, warmup, runs = 20, 300, 1000
	_, pkts, layerOf := simulcastPackets(3*(warmup+runs) + 30)
	r := unstartedReceiver(ReceiverConfig{SSRC: simSSRCs[0], Kind: KindVideo}, simSSRCs[1], simSSRCs[2])
	now := int64(time.Hour)
	r.clock = func() int64 { return now }
	sizes := [3][2]int{{320, 180}, {640, 360}, {1280, 720}}
	var dts []*DownTrack
	for l, size := range sizes {
		for i := range perLayer {
			dt := NewDownTrack("v", "s")
			bindNop(t, dt, uint32(l*perLayer+i+1))
			dt.SetRenderSize(size[0], size[1])
			dt.SetSource(r)
			if l == 2 && i%2 == 0 {
				dt.setLimit(Layer{Spatial: 2, Temporal: 0})
			}
			if i == 1 {
				dt.SetPadding(300_000) // a probe: padding after every frame
			}
			dts = append(dts, dt)
		}
	}
	i := 0
	step := func() {
		r.handleLayer(r.layer(layerOf[i]), pkts[i], now)
		i++
		now += int64(time.Millisecond)
	}
	for range warmup {
		step()
	}
	if got := testing.AllocsPerRun(runs, step); got != 0 {
		t.Errorf("%v allocations per packet, want 0", got)
	}
	for l := range 3 {
		if st := dts[l*perLayer+1].Stats(); st.Current.Spatial != l || st.Packets == 0 {
			t.Errorf("a layer %d slot: %+v", l, st)
		}
	}
	if st := dts[2*perLayer].Stats(); st.FramesDropped == 0 {
		t.Errorf("a TID 0 slot dropped no frames: %+v", st)
	}
	if st := dts[1].Stats(); st.PaddingBytes == 0 {
		t.Errorf("the probing slot sent no padding: %+v", st)
	}
	// Resize every slot: they switch layer at the next key frames.
	for j, dt := range dts {
		dt.SetRenderSize(sizes[(j/perLayer+1)%3][0], sizes[(j/perLayer+1)%3][1])
	}
	if got := testing.AllocsPerRun(runs, step); got != 0 {
		t.Errorf("while switching: %v allocations per packet, want 0", got)
	}
	if st := dts[0].Stats(); st.Current.Spatial != 1 {
		t.Errorf("a resized slot did not switch: %+v", st)
	}
}

// TestNACKResendDoesNotAllocate: a subscriber's NACK is answered from the
// publisher's packet cache, translated as the packet first went out, with
// no allocation per resent packet.
func TestNACKResendDoesNotAllocate(t *testing.T) {
	const warmup = 200
	r := unstartedReceiver(ReceiverConfig{SSRC: 0xA})
	dt := NewDownTrack("v", "s")
	bindNop(t, dt, 1)
	dt.SetSource(r)
	step := replay(r, sourcePackets(forwardertest.NewVP8Source(forwardertest.VP8Config{SSRC: 0xA}), warmup))
	for range warmup {
		step()
	}
	st := dt.Stats()
	if st.Packets < warmup/2 {
		t.Fatalf("forwarded %d packets, want most of %d", st.Packets, warmup)
	}
	// The output sequence numbers of the last 16 packets, as the viewer saw them.
	last := uint16(dt.munger.last.seq)
	nack := &rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: last - 16, LostPackets: 0xffff}}}
	scratch := &Scratch{}
	dt.handleRTCP(nack, scratch) // warm
	before := dt.Stats().Retransmits
	if a := testing.AllocsPerRun(100, func() { dt.handleRTCP(nack, scratch) }); a != 0 {
		t.Errorf("%v allocations per NACK of 17 packets, want 0", a)
	}
	if got := dt.Stats().Retransmits - before; got < 17*100 {
		t.Errorf("%d packets resent for 101 NACKs of 17, want every one", got)
	}
}

// stampWriter stamps each packet with a header extension before
// discarding it, as the transport-wide sequence number interceptor does
// on a slot's way out.
type stampWriter struct {
	nopWriter
	seq [2]byte
}

func (w *stampWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if err := h.SetExtension(5, w.seq[:]); err != nil {
		return 0, err
	}
	return w.nopWriter.WriteRTP(h, payload)
}

// TestStampedForwardDoesNotAllocate: a slot whose writer adds a header
// extension to every packet (transport-wide CC numbering, for the
// downlink's estimate) still forwards without allocating: the output
// header keeps its extension list from packet to packet.
func TestStampedForwardDoesNotAllocate(t *testing.T) {
	const subs, warmup, runs = 10, 100, 1000
	a := unstartedReceiver(ReceiverConfig{SSRC: 0xA})
	pkts := sourcePackets(forwardertest.NewVP8Source(forwardertest.VP8Config{SSRC: 0xA, TemporalLayers: true}), warmup+runs+1)
	for i := range subs {
		dt := NewDownTrack("v", "s")
		bindWriter(t, dt, uint32(i+1), &stampWriter{})
		dt.SetSource(a)
	}
	step := replay(a, pkts)
	for range warmup {
		step()
	}
	if got := testing.AllocsPerRun(runs, step); got != 0 {
		t.Errorf("%v allocations per packet, want 0", got)
	}
}
