package forwarder

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
	"github.com/confd/confd/forwarder/vp8"
)

// frameInterval is the arrival spacing of frames, 30 fps.
const frameInterval = int64(time.Second / 30)

// negotiatedPT is the VP8 payload type subscribers negotiate in these tests;
// it differs from the publishers' 96 so that a forgotten rewrite shows.
const negotiatedPT = 98

// input is one packet the test fed to a Receiver.
type input struct {
	src     *Receiver
	layer   int
	seq     uint16
	ts      uint32
	marker  bool
	desc    vp8.Descriptor
	payload []byte
	at      int64 // when it was fed, on the test clock
}

// testNet is a set of publishers fed in lockstep from one clock. It indexes
// every packet fed by its VP8 data (the payload after the descriptor),
// which the forwarder never changes, so any forwarded packet can be traced
// to its input.
type testNet struct {
	t      *testing.T
	now    int64
	inputs map[string]input
	// lost holds the packets a test's loss function took away, by layer
	// SSRC and sequence number.
	lost map[[2]uint32]bool
}

func newTestNet(t *testing.T) *testNet {
	return &testNet{t: t, now: int64(time.Hour), inputs: map[string]input{}, lost: map[[2]uint32]bool{}}
}

// framer is a publisher the test clock drives, one frame per tick.
type framer interface{ frame() }

// testPub is a publisher: a VP8Source feeding a Receiver (never Started:
// the test calls handle itself, standing in for the reader goroutine). It
// answers key frame requests the way an encoder does, kfDelay frames late.
type testPub struct {
	net      *testNet
	r        *Receiver
	src      *forwardertest.VP8Source
	kfDelay  int
	kfIn     int    // frames until a requested key frame, -1 when none is due
	seqShift uint16 // added to the source's sequence numbers, one per padding packet
	last     rtp.Header
}

func (n *testNet) publisher(cfg forwardertest.VP8Config, kfDelay int) *testPub {
	r := unstartedReceiver(ReceiverConfig{SSRC: cfg.SSRC, Kind: KindVideo})
	r.clock = func() int64 { return n.now }
	return &testPub{
		net:     n,
		r:       r,
		src:     forwardertest.NewVP8Source(cfg),
		kfDelay: kfDelay,
		kfIn:    -1,
	}
}

// run feeds frames frames of every publisher, interleaved frame by frame.
func (n *testNet) run(frames int, pubs ...framer) {
	for range frames {
		for _, p := range pubs {
			p.frame()
		}
		n.now += frameInterval
	}
}

// next returns the packets of the publisher's next frame without feeding
// them, key frame requests answered.
func (p *testPub) next() [][]byte {
	if p.kfIn < 0 && takeKeyframeRequest(p.r) {
		p.kfIn = p.kfDelay
	}
	if p.kfIn == 0 {
		p.src.ForceKeyframe()
	}
	if p.kfIn >= 0 {
		p.kfIn--
	}
	pkts := p.src.NextFrame()
	for _, raw := range pkts {
		seq := binary.BigEndian.Uint16(raw[2:])
		binary.BigEndian.PutUint16(raw[2:], seq+p.seqShift)
	}
	return pkts
}

func (p *testPub) frame() {
	for _, raw := range p.next() {
		p.feed(raw)
	}
}

// feed registers a well-formed packet and hands it to the Receiver.
func (p *testPub) feed(raw []byte) {
	p.net.register(p.r, 0, raw)
	if _, err := p.last.Unmarshal(raw); err != nil {
		p.net.t.Fatal(err)
	}
	p.r.handle(raw, p.net.now)
	p.net.now += int64(time.Microsecond)
}

// padding feeds a padding-only packet (RFC 3550 §5.1) after the last packet,
// as a bandwidth probe would be sent; later packets are shifted by one.
func (p *testPub) padding() {
	h := p.last
	h.SequenceNumber++
	h.Marker, h.Padding, h.PaddingSize = false, true, 0
	hdr, err := h.Marshal()
	if err != nil {
		p.net.t.Fatal(err)
	}
	const padLen = 32
	pad := make([]byte, padLen)
	pad[padLen-1] = padLen
	p.r.handle(append(hdr, pad...), p.net.now)
	p.last = h
	p.seqShift++
}

func (n *testNet) register(src *Receiver, layer int, raw []byte) {
	var pkt rtp.Packet
	if err := pkt.Unmarshal(raw); err != nil {
		n.t.Fatalf("test packet: %v", err)
	}
	in := input{src: src, layer: layer, seq: pkt.SequenceNumber, ts: pkt.Timestamp, marker: pkt.Marker, payload: pkt.Payload, at: n.now}
	if err := in.desc.Unmarshal(pkt.Payload); err != nil {
		n.t.Fatalf("test packet: %v", err)
	}
	key := string(pkt.Payload[in.desc.Size:])
	if _, dup := n.inputs[key]; dup {
		n.t.Fatalf("two input packets carry the same VP8 data")
	}
	n.inputs[key] = in
}

// takeKeyframeRequest reports whether a key frame was requested from r
// since the last call. The Receivers of these tests are not Started, so
// nothing else drains the request channel.
func takeKeyframeRequest(r *Receiver) bool {
	return takeLayerKeyframeRequest(r, 0)
}

// takeLayerKeyframeRequest is takeKeyframeRequest for one layer.
func takeLayerKeyframeRequest(r *Receiver, layer int) bool {
	bit := uint32(1) << layer
	return r.kfPending.And(^bit)&bit != 0
}

// bindTrack binds dt as pion would for a subscriber that negotiated Opus,
// H.264 and VP8, and returns the writer behind the binding.
func bindTrack(t *testing.T, dt *DownTrack, ssrc uint32) (*recorder, *fakeTrackContext) {
	t.Helper()
	rec := &recorder{}
	ctx := &fakeTrackContext{
		id:   fmt.Sprintf("binding-%d", ssrc),
		ssrc: webrtc.SSRC(ssrc),
		codecs: []webrtc.RTPCodecParameters{
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, PayloadType: 111},
			{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000}, PayloadType: 102},
			vp8Codec(negotiatedPT),
		},
		w: rec,
	}
	codec, err := dt.Bind(ctx)
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	if codec.PayloadType != negotiatedPT {
		t.Fatalf("Bind picked payload type %d, want %d (VP8)", codec.PayloadType, negotiatedPT)
	}
	return rec, ctx
}

// traced is a forwarded packet with its parsed descriptor and its input.
type traced struct {
	out  sentPacket
	desc vp8.Descriptor
	in   input
}

// checkStream checks the properties every output stream must have and
// returns each packet traced to its input:
//   - the first packet starts a key frame;
//   - one SSRC and the negotiated payload type throughout;
//   - sequence numbers +1 per packet;
//   - whole frames only: a frame starts right after a marker;
//   - timestamps constant within a frame and increasing between frames;
//   - picture ID +1 per frame, TL0PICIDX +1 per base-layer frame;
//   - VP8 data unchanged, descriptor unchanged but for picture ID and
//     TL0PICIDX;
//   - the source changes, and the offsets between input and output
//     numbers change, only at a key frame.
func (n *testNet) checkStream(t *testing.T, name string, pkts []sentPacket, ssrc uint32) []traced {
	t.Helper()
	if len(pkts) == 0 {
		t.Fatalf("%s: nothing forwarded", name)
	}
	stream := make([]traced, len(pkts))
	for i, p := range pkts {
		stream[i] = n.trace(t, name, i, p, ssrc)
		if i == 0 {
			if !stream[i].desc.Keyframe {
				t.Fatalf("%s: first packet (seq %d) does not start a key frame", name, p.hdr.SequenceNumber)
			}
			continue
		}
		if err := n.continuous(&stream[i-1], &stream[i]); err != nil {
			t.Fatalf("%s: packet %d (seq %d): %v", name, i, p.hdr.SequenceNumber, err)
		}
	}
	return stream
}

func (n *testNet) trace(t *testing.T, name string, i int, p sentPacket, ssrc uint32) traced {
	t.Helper()
	var c traced
	c.out = p
	if err := c.desc.Unmarshal(p.payload); err != nil {
		t.Fatalf("%s: packet %d: %v", name, i, err)
	}
	in, ok := n.inputs[string(p.payload[c.desc.Size:])]
	if !ok {
		t.Fatalf("%s: packet %d (seq %d) carries VP8 data no publisher sent", name, i, p.hdr.SequenceNumber)
	}
	c.in = in
	h := p.hdr
	if h.SSRC != ssrc || h.PayloadType != negotiatedPT || h.Marker != in.marker || h.Version != 2 ||
		h.Padding || h.Extension || len(h.CSRC) != 0 {
		t.Fatalf("%s: packet %d: header %+v (SSRC want %d, PT %d, marker %v)", name, i, h, ssrc, negotiatedPT, in.marker)
	}
	d := c.desc
	d.PictureID, d.TL0PICIDX = in.desc.PictureID, in.desc.TL0PICIDX
	if d != in.desc {
		t.Fatalf("%s: packet %d: descriptor %+v, input %+v", name, i, c.desc, in.desc)
	}
	return c
}

// continuous checks cur against the packet sent before it. A sequence gap
// is allowed only where the test lost input packets: within one segment,
// exactly the lost ones; the frame checks then stop at the gap.
func (n *testNet) continuous(prev, cur *traced) error {
	sameSegment := cur.in.src == prev.in.src && cur.in.layer == prev.in.layer && !cur.desc.Keyframe
	if gap := cur.out.hdr.SequenceNumber - prev.out.hdr.SequenceNumber; gap != 1 {
		if !sameSegment || cur.in.seq-prev.in.seq != gap || !n.allLost(prev, cur) {
			return fmt.Errorf("sequence number %d, want %d", cur.out.hdr.SequenceNumber, prev.out.hdr.SequenceNumber+1)
		}
		if d := int32(cur.out.hdr.Timestamp - prev.out.hdr.Timestamp); d < 0 {
			return fmt.Errorf("timestamp went back by %d over a loss", -d)
		}
		return nil
	}
	if (cur.in.src != prev.in.src || cur.in.layer != prev.in.layer) && !cur.desc.Keyframe {
		return fmt.Errorf("source or layer changed on a packet that is not a key frame start")
	}
	if sameSegment && offsets(prev) != offsets(cur) {
		return fmt.Errorf("offsets changed without a switch: %v then %v", offsets(prev), offsets(cur))
	}
	if !cur.desc.Start {
		return sameFrame(prev, cur)
	}
	return nextFrame(prev, cur)
}

// allLost reports whether every input packet between prev and cur (of
// one layer) was lost by the test.
func (n *testNet) allLost(prev, cur *traced) bool {
	ssrc := prev.in.src.layer(prev.in.layer).ssrc
	for seq := prev.in.seq + 1; seq != cur.in.seq; seq++ {
		if !n.lost[[2]uint32{ssrc, uint32(seq)}] {
			return false
		}
	}
	return true
}

func sameFrame(prev, cur *traced) error {
	switch {
	case prev.out.hdr.Marker:
		return fmt.Errorf("continuation packet after the end of a frame")
	case cur.in.src != prev.in.src || cur.in.seq != prev.in.seq+1:
		return fmt.Errorf("continuation packet not following its frame's previous packet")
	case cur.out.hdr.Timestamp != prev.out.hdr.Timestamp, cur.desc.PictureID != prev.desc.PictureID,
		cur.desc.TL0PICIDX != prev.desc.TL0PICIDX:
		return fmt.Errorf("numbers changed inside a frame")
	}
	return nil
}

func nextFrame(prev, cur *traced) error {
	if !prev.out.hdr.Marker {
		return fmt.Errorf("frame started before the previous one ended")
	}
	if d := int32(cur.out.hdr.Timestamp - prev.out.hdr.Timestamp); d <= 0 {
		return fmt.Errorf("timestamp moved by %d between frames", d)
	}
	if got, want := cur.desc.PictureID, (prev.desc.PictureID+1)&pictureIDMask; got != want {
		return fmt.Errorf("picture ID %#x, want %#x", got, want)
	}
	want := prev.desc.TL0PICIDX
	if cur.desc.TID == 0 {
		want++
	}
	if cur.desc.TL0PICIDX != want {
		return fmt.Errorf("TL0PICIDX %d (TID %d), want %d", cur.desc.TL0PICIDX, cur.desc.TID, want)
	}
	return nil
}

// offsets are the differences between output and input timestamp and
// TL0PICIDX: constant within a segment. (The picture ID offset also moves
// where the slot leaves frames out; nextFrame checks that picture IDs
// stay consecutive.)
func offsets(c *traced) [2]uint32 {
	return [2]uint32{
		c.out.hdr.Timestamp - c.in.ts,
		uint32(c.desc.TL0PICIDX - c.in.desc.TL0PICIDX),
	}
}

// layers is the list of layers of a traced stream, one entry per run.
func layers(stream []traced) []int {
	var runs []int
	for _, c := range stream {
		if len(runs) == 0 || runs[len(runs)-1] != c.in.layer {
			runs = append(runs, c.in.layer)
		}
	}
	return runs
}

// sources is the list of sources of a traced stream, one entry per run.
func sources(stream []traced) []*Receiver {
	var runs []*Receiver
	for _, c := range stream {
		if len(runs) == 0 || runs[len(runs)-1] != c.in.src {
			runs = append(runs, c.in.src)
		}
	}
	return runs
}

// sameBytes reports whether every packet went out with exactly its input
// payload: no descriptor rewrite.
func sameBytes(stream []traced) bool {
	for _, c := range stream {
		if !bytes.Equal(c.out.payload, c.in.payload) {
			return false
		}
	}
	return true
}

// testSim is a simulcast publisher: a forwardertest.Simulcast feeding one
// unstarted Receiver with three layers. It answers each layer's key frame
// requests kfDelay frames late, as an encoder does.
type testSim struct {
	net     *testNet
	r       *Receiver
	src     *forwardertest.Simulcast
	kfDelay int
	kfIn    [3]int
	off     [3]bool // layers the publisher does not send (paused)
	forced  [3]int  // key frames made on request, per layer
	demand  bool    // run the Receiver's layer pausing after every frame
	// largestFirst feeds each frame's layers largest first (browsers
	// send a capture's encodings in no set order).
	largestFirst bool
	// tsShift is added to each layer's RTP timestamps, on top of the
	// source's own origin.
	tsShift [3]uint32
	// reports, when set, makes the publisher send each layer's sender
	// report (RFC 3550 §6.4.1) once every reportEvery frames; the layers
	// report at different frames and between frames.
	reports *simClock
	// jitter, when set, delays each frame's packets by what it returns
	// (less than a frame interval), as a network does: arrival times then
	// no longer follow the capture clock.
	jitter func() int64
}

// simClock is the capture clock of a testSim's frames: frame k of every
// layer is captured k frame intervals after the first, at tick k*3000 of
// 90 kHz, which is wall-clock (NTP) time ntpAt(k*3000).
type simClock struct {
	ntpBase uint64 // NTP time of the first frame (RFC 3550 §4)
	// skip holds the layers that send no reports; skew moves a layer's
	// reported NTP times by that many ticks (a broken report).
	skip [3]bool
	skew [3]int64
}

// reportEvery is how many frames apart a testSim layer sends its sender
// reports: one per second at 30 fps, as browsers do.
const reportEvery = 30

// ticksPerFrame is the RTP timestamp step of the synthetic sources, 30 fps.
const ticksPerFrame = 90000 / 30

// ntpAt is the NTP time of capture tick c.
func (c *simClock) ntpAt(tick int64) uint64 {
	return c.ntpBase + uint64((tick<<32+videoClockRate/2)/videoClockRate)
}

// tsBase is the RTP timestamp of layer i at capture tick 0.
func (p *testSim) tsBase(i int) uint32 {
	return p.src.Layers[i].Config().FirstTS + p.tsShift[i]
}

// capture is the capture tick of an input packet of p.
func (p *testSim) capture(in input) int64 {
	return int64(in.ts - p.tsBase(in.layer))
}

// report sends layer i's sender report if one is due before its frame k,
// stamped at an instant between frames k-1 and k. The layers report
// first at frames 1, 8 and 15.
func (p *testSim) report(i, k int) {
	if p.reports == nil || p.reports.skip[i] || k%reportEvery != 1+7*i {
		return
	}
	tick := int64(k)*ticksPerFrame - 1000 - 337*int64(i)
	p.r.SenderReport(p.src.Layers[i].Config().SSRC, p.reports.ntpAt(tick+p.reports.skew[i]), p.tsBase(i)+uint32(tick))
}

// simulcast makes a publisher; cfg.Lose, when set, is wrapped so that the
// packets it takes are recorded as lost.
func (n *testNet) simulcast(cfg forwardertest.SimulcastConfig, kfDelay int) *testSim {
	var ssrcs [3]uint32
	if lose := cfg.Lose; lose != nil {
		cfg.Lose = func(layer int, seq uint16) bool {
			if !lose(layer, seq) {
				return false
			}
			n.lost[[2]uint32{ssrcs[layer], uint32(seq)}] = true
			return true
		}
	}
	src := forwardertest.NewSimulcast(cfg)
	for i, l := range src.Layers {
		ssrcs[i] = l.Config().SSRC
	}
	// Switches ask at once: these tests follow each switch to its key
	// frame (TestSwitchKeyframeWait covers the wait).
	r := unstartedReceiver(ReceiverConfig{SSRC: ssrcs[0], Kind: KindVideo, SwitchKeyframeWait: -1}, ssrcs[1], ssrcs[2])
	r.clock = func() int64 { return n.now }
	return &testSim{net: n, r: r, src: src, kfDelay: kfDelay, kfIn: [3]int{-1, -1, -1}}
}

// frame feeds one frame of every layer the publisher sends, smallest
// first.
func (p *testSim) frame() {
	if p.jitter != nil {
		d := p.jitter()
		p.net.now += d
		defer func() { p.net.now -= d }()
	}
	for j := range p.src.Layers {
		i := j
		if p.largestFirst {
			i = len(p.src.Layers) - 1 - j
		}
		l := p.src.Layers[i]
		// A request while a key frame is already coming is answered by
		// it, as encoders do.
		if takeLayerKeyframeRequest(p.r, i) && p.kfIn[i] < 0 {
			p.kfIn[i] = p.kfDelay
		}
		if p.kfIn[i] == 0 {
			l.ForceKeyframe()
			p.forced[i]++
		}
		if p.kfIn[i] >= 0 {
			p.kfIn[i]--
		}
		p.report(i, l.Frames())
		pkts := l.NextFrame()
		if p.off[i] {
			continue
		}
		for _, raw := range pkts {
			binary.BigEndian.PutUint32(raw[4:], binary.BigEndian.Uint32(raw[4:])+p.tsShift[i])
			p.net.register(p.r, i, raw)
			p.r.handleLayer(p.r.layer(i), raw, p.net.now)
			p.net.now += int64(time.Microsecond)
		}
	}
	if p.demand {
		p.r.updateDemand(p.net.now)
	}
}
