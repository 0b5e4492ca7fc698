package forwarder

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder/forwardertest"
	"github.com/confd/confd/forwarder/vp8"
)

// TestBind checks that Bind picks VP8 among the negotiated codecs, whatever
// the case of its MIME type, and fails with ErrNoCodec without it.
func TestBind(t *testing.T) {
	var _ webrtc.TrackLocal = (*DownTrack)(nil)
	opus := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}
	h264 := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000},
		PayloadType:        102,
	}
	lowerVP8 := vp8Codec(100)
	lowerVP8.MimeType = "video/vp8"

	dt := NewDownTrack("video0", "slot0")
	got, err := dt.Bind(&fakeTrackContext{id: "a", ssrc: 4242, codecs: []webrtc.RTPCodecParameters{opus, h264, lowerVP8}, w: nopWriter{}})
	if err != nil || got.PayloadType != 100 || dt.SSRC() != 4242 {
		t.Fatalf("Bind = PT %d, %v; SSRC %d; want PT 100, SSRC 4242", got.PayloadType, err, dt.SSRC())
	}
	if dt.ID() != "video0" || dt.StreamID() != "slot0" || dt.RID() != "" || dt.Kind() != webrtc.RTPCodecTypeVideo {
		t.Errorf("identity: %q %q %q %v", dt.ID(), dt.StreamID(), dt.RID(), dt.Kind())
	}
	if err := dt.Unbind(nil); err != nil || dt.SSRC() != 0 {
		t.Errorf("Unbind = %v, SSRC after %d", err, dt.SSRC())
	}

	other := NewDownTrack("video1", "slot1")
	_, err = other.Bind(&fakeTrackContext{id: "b", ssrc: 7, codecs: []webrtc.RTPCodecParameters{opus, h264}, w: nopWriter{}})
	if !errors.Is(err, ErrNoCodec) || other.SSRC() != 0 {
		t.Errorf("Bind without VP8 = %v, SSRC %d; want ErrNoCodec, 0", err, other.SSRC())
	}
}

// TestFanoutAndSwitch fans two publishers out to six slots that join
// mid-GOP, switch between the publishers and empty, with every counter
// close to its wrap, and checks every output stream's properties.
func TestFanoutAndSwitch(t *testing.T) {
	n := newTestNet(t)
	a := n.publisher(forwardertest.VP8Config{SSRC: 0xA, FirstSeq: 65300, FirstTS: 0xffffffff - 100000,
		FirstPictureID: 0x7ff0, FirstTL0PICIDX: 250, TemporalLayers: true}, 2)
	b := n.publisher(forwardertest.VP8Config{SSRC: 0xB, FirstSeq: 100, FirstTS: 12345,
		FirstPictureID: 3, FirstTL0PICIDX: 9, TemporalLayers: true, KeyframeInterval: 1000}, 3)
	n.run(10, a, b) // no subscriber yet: the slots join mid-GOP

	const k = 6
	dts := make([]*DownTrack, k)
	recs := make([]*recorder, k)
	for i := range dts {
		dts[i] = NewDownTrack(fmt.Sprintf("video%d", i), "slots")
		recs[i], _ = bindTrack(t, dts[i], uint32(1000+i))
		dts[i].SetSource(a.r)
	}
	n.run(20, a, b)
	a.padding()
	n.run(5, a, b)

	// Slots 0-2 switch to B, whose key frame comes only a few frames later.
	cut := make([]int, 3)
	for i := range cut {
		cut[i] = recs[i].count()
		dts[i].SetSource(b.r)
	}
	// A packet A was already handing out at the switch may still reach the
	// slot once (RemoveSink's contract). The slot must ignore it, even the
	// start of a key frame.
	a.src.ForceKeyframe()
	for _, raw := range a.next() {
		a.feed(raw)
		for i := range cut {
			l := a.r.layer(0)
			dts[i].WriteRTP(&l.pkt, &l.out)
		}
	}
	b.frame()
	n.now += frameInterval
	n.run(1, a, b)
	for i := range cut {
		if got := recs[i].count(); got != cut[i] {
			t.Fatalf("slot %d: %d packets forwarded while waiting for B's key frame", i, got-cut[i])
		}
	}
	n.run(30, a, b)
	dts[0].SetSource(a.r)
	dts[3].SetSource(b.r)
	n.run(30, a, b)

	stopped := recs[1].count()
	dts[1].SetSource(nil)
	n.run(10, a, b)
	if got := recs[1].count(); got != stopped {
		t.Errorf("slot 1: %d packets forwarded after SetSource(nil)", got-stopped)
	}
	if dts[1].Source() != nil || a.r.Sinks() != 3 || b.r.Sinks() != 2 {
		t.Errorf("sinks: A %d, B %d; want 3, 2", a.r.Sinks(), b.r.Sinks())
	}

	want := [][]*Receiver{{a.r, b.r, a.r}, {a.r, b.r}, {a.r, b.r}, {a.r, b.r}, {a.r}, {a.r}}
	for i, rec := range recs {
		name := fmt.Sprintf("slot %d", i)
		stream := n.checkStream(t, name, rec.sent(), uint32(1000+i))
		if got := sources(stream); !slices.Equal(got, want[i]) {
			t.Errorf("%s: source runs %v, want %v", name, got, want[i])
		}
		if i < len(cut) && stream[cut[i]].in.src != b.r {
			t.Errorf("%s: first packet after the switch is not from B", name)
		}
		if st := dts[i].Stats(); st.Packets != uint64(rec.count()) || st.Switches != uint64(len(want[i])) {
			t.Errorf("%s: stats %+v, want %d packets, %d switches", name, st, rec.count(), len(want[i]))
		}
	}
	// Slots that never switched forward the publisher's bytes untouched.
	for _, i := range []int{4, 5} {
		if !sameBytes(n.checkStream(t, "slot", recs[i].sent(), uint32(1000+i))) {
			t.Errorf("slot %d: payload rewritten although its offsets are zero", i)
		}
	}
	if st := a.r.Stats(); st.Dropped != 0 || st.Packets == 0 || st.Keyframes == 0 {
		t.Errorf("A stats %+v", st)
	}
}

// TestGarbageDropped feeds malformed packets between good ones: each is
// dropped and counted, nothing is forwarded for it and the output stream
// does not notice.
func TestGarbageDropped(t *testing.T) {
	marshal := func(h rtp.Header, payload ...byte) []byte {
		raw, err := h.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return append(raw, payload...)
	}
	tests := []struct {
		name    string
		garbage func(good []byte, h rtp.Header) []byte
	}{
		{"truncated header", func(good []byte, _ rtp.Header) []byte { return bytes.Clone(good[:9]) }},
		{"CSRC count beyond the packet", func(good []byte, _ rtp.Header) []byte {
			raw := bytes.Clone(good[:24])
			raw[0] |= 0x0f
			return raw
		}},
		{"extension longer than the packet", func(_ []byte, h rtp.Header) []byte {
			raw := marshal(h, 0xbe, 0xde, 0xff, 0xff, 0x10, 0, 0, 0)
			raw[0] |= 0x10
			return raw
		}},
		{"VP8 descriptor cut inside the picture ID", func(_ []byte, h rtp.Header) []byte {
			return marshal(h, 0x90, 0x80, 0x81)
		}},
		{"VP8 frame start without payload header", func(_ []byte, h rtp.Header) []byte {
			return marshal(h, 0x10)
		}},
		{"padding longer than the packet", func(good []byte, _ rtp.Header) []byte {
			raw := bytes.Clone(good[:40])
			raw[0] |= 0x20
			raw[39] = 200
			return raw
		}},
		{"zero padding length", func(good []byte, _ rtp.Header) []byte {
			raw := bytes.Clone(good)
			raw[0] |= 0x20
			raw[len(raw)-1] = 0
			return raw
		}},
	}
	n := newTestNet(t)
	a := n.publisher(forwardertest.VP8Config{SSRC: 0xA, FirstSeq: 65500, KeyframeInterval: 5}, 0)
	dts := make([]*DownTrack, 3)
	recs := make([]*recorder, len(dts))
	for i := range dts {
		dts[i] = NewDownTrack("v", "s")
		recs[i], _ = bindTrack(t, dts[i], uint32(i+1))
		dts[i].SetSource(a.r)
	}
	n.run(3, a)
	for i, tt := range tests {
		frame := a.next()
		var h rtp.Header
		if _, err := h.Unmarshal(frame[0]); err != nil {
			t.Fatal(err)
		}
		before, sent := a.r.Stats(), total(recs)
		a.r.handle(tt.garbage(frame[0], h), n.now)
		after := a.r.Stats()
		if after.Dropped != before.Dropped+1 || after.Packets != before.Packets || total(recs) != sent {
			t.Errorf("%s: dropped %d->%d, packets %d->%d, %d forwarded", tt.name,
				before.Dropped, after.Dropped, before.Packets, after.Packets, total(recs)-sent)
		}
		if after.Dropped != uint64(i+1) {
			t.Errorf("%s: Dropped = %d, want %d", tt.name, after.Dropped, i+1)
		}
		for _, raw := range frame {
			a.feed(raw)
		}
		n.now += frameInterval
	}
	n.run(3, a)
	for i, rec := range recs {
		n.checkStream(t, fmt.Sprintf("slot %d", i), rec.sent(), uint32(i+1))
	}
}

// total is the number of packets the recorders accepted.
func total(recs []*recorder) int {
	n := 0
	for _, r := range recs {
		n += r.count()
	}
	return n
}

// serveRTCP runs dt.ServeRTCP on a fed reader; the returned function ends it
// and waits for it.
func serveRTCP(dt *DownTrack) (*rtcpFeed, func()) {
	feed := newRTCPFeed()
	done := make(chan struct{})
	go func() {
		defer close(done)
		dt.ServeRTCP(feed)
	}()
	return feed, func() {
		close(feed.in)
		<-done
	}
}

// servedSlot is a slot bound as SSRC 9 and showing a, the key frame
// request SetSource made taken, with its RTCP served (see serveRTCP).
func servedSlot(t *testing.T, a *Receiver) (*DownTrack, *rtcpFeed, func()) {
	t.Helper()
	dt := NewDownTrack("v", "s")
	bindTrack(t, dt, 9)
	dt.SetSource(a)
	takeKeyframeRequest(a)
	feed, stop := serveRTCP(dt)
	return dt, feed, stop
}

// TestNACKRetransmits checks that a NACK re-emits exactly the packets first
// sent under the output sequence numbers it names (same header, same
// rewritten payload bytes), across a dropped padding packet and a source
// switch, and ignores numbers never sent.
func TestNACKRetransmits(t *testing.T) {
	n := newTestNet(t)
	a := n.publisher(forwardertest.VP8Config{SSRC: 0xA, FirstSeq: 65500, FirstPictureID: 0x7ffa, FirstTL0PICIDX: 254}, 1)
	b := n.publisher(forwardertest.VP8Config{SSRC: 0xB, FirstSeq: 30000, FirstPictureID: 9, KeyframeInterval: 1000}, 1)
	dt := NewDownTrack("v", "s")
	rec, _ := bindTrack(t, dt, 55)
	dt.SetSource(a.r)
	n.run(4, a, b)
	a.padding()
	n.run(4, a, b)
	dt.SetSource(b.r)
	n.run(8, a, b)

	first := rec.sent()
	stream := n.checkStream(t, "slot", first, 55)
	if sources(stream)[1] != b.r || sameBytes(stream) {
		t.Fatal("the test needs a switch to B with rewritten descriptors")
	}
	bySeq := map[uint16]sentPacket{}
	var asked []uint16
	for i, p := range first {
		bySeq[p.hdr.SequenceNumber] = p
		if i%3 == 0 || i == len(first)-1 {
			asked = append(asked, p.hdr.SequenceNumber)
		}
	}
	last := first[len(first)-1].hdr.SequenceNumber
	never := []uint16{last + 1, last + 40}

	feed, stop := serveRTCP(dt)
	defer stop()
	err := feed.send(&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 55,
		Nacks: rtcp.NackPairsFromSequenceNumbers(append(slices.Clone(asked), never...))})
	if err != nil {
		t.Fatal(err)
	}
	resent := rec.sent()[len(first):]
	if len(resent) != len(asked) {
		t.Fatalf("%d packets re-sent for %d known sequence numbers", len(resent), len(asked))
	}
	for _, p := range resent {
		orig, ok := bySeq[p.hdr.SequenceNumber]
		if !ok || !slices.Contains(asked, p.hdr.SequenceNumber) {
			t.Fatalf("re-sent seq %d was not asked for", p.hdr.SequenceNumber)
		}
		if p.hdr.Timestamp != orig.hdr.Timestamp || p.hdr.Marker != orig.hdr.Marker ||
			p.hdr.SSRC != orig.hdr.SSRC || p.hdr.PayloadType != orig.hdr.PayloadType {
			t.Errorf("seq %d: re-sent header %+v, first sent %+v", p.hdr.SequenceNumber, p.hdr, orig.hdr)
		}
		if !bytes.Equal(p.payload, orig.payload) {
			t.Errorf("seq %d: re-sent payload differs from the first one", p.hdr.SequenceNumber)
		}
	}
	if st := dt.Stats(); st.NACKs != uint64(len(asked)+len(never)) || st.Retransmits != uint64(len(asked)) {
		t.Errorf("stats %+v, want %d NACKs, %d retransmits", st, len(asked)+len(never), len(asked))
	}
}

// TestKeyframeRequestsReachSource checks that a PLI or FIR from the
// subscriber becomes a key frame request to the slot's current source, and
// to nobody when the slot is empty.
func TestKeyframeRequestsReachSource(t *testing.T) {
	a := unstartedReceiver(ReceiverConfig{SSRC: 0xA})
	b := unstartedReceiver(ReceiverConfig{SSRC: 0xB})
	dt, feed, stop := servedSlot(t, a)
	defer stop()
	pli := &rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 9}
	fir := &rtcp.FullIntraRequest{SenderSSRC: 1, MediaSSRC: 9, FIR: []rtcp.FIREntry{{SSRC: 9, SequenceNumber: 1}}}
	steps := []struct {
		name   string
		source *Receiver
		pkt    rtcp.Packet
		wantA  bool
		wantB  bool
	}{
		{"PLI reaches A", a, pli, true, false},
		{"FIR reaches A", a, fir, true, false},
		{"after the switch a PLI reaches B only", b, pli, false, true},
		{"an empty slot asks nobody", nil, pli, false, false},
	}
	for _, s := range steps {
		dt.SetSource(s.source)
		takeKeyframeRequest(a)
		takeKeyframeRequest(b)
		if err := feed.send(&rtcp.ReceiverReport{SSRC: 1}, s.pkt); err != nil {
			t.Fatal(err)
		}
		if gotA, gotB := takeKeyframeRequest(a), takeKeyframeRequest(b); gotA != s.wantA || gotB != s.wantB {
			t.Errorf("%s: requests to A %v, B %v", s.name, gotA, gotB)
		}
	}
	if got := dt.Stats().KeyframeRequests; got != uint64(len(steps)) {
		t.Errorf("KeyframeRequests = %d, want %d", got, len(steps))
	}
}

// TestTransportFeedbackIsPassedOver: a compound packet whose transport-
// wide feedback is the estimator's (package bwe) still has its key frame
// request acted on, and feedback alone is read past without being
// unmarshalled.
func TestTransportFeedbackIsPassedOver(t *testing.T) {
	a := unstartedReceiver(ReceiverConfig{SSRC: 0xA})
	dt, feed, stop := servedSlot(t, a)
	defer stop()
	twcc := &rtcp.TransportLayerCC{
		Header:     rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback, Length: 5},
		SenderSSRC: 1, MediaSSRC: 9, BaseSequenceNumber: 3, PacketStatusCount: 1,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 1}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}},
	}
	twcc.Header.Padding = true
	if err := feed.send(twcc); err != nil {
		t.Fatal(err)
	}
	if takeKeyframeRequest(a) {
		t.Fatal("feedback alone asked for a key frame")
	}
	// Passed over, not unmarshalled again: no allocation.
	raw, err := twcc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { dt.handleCompound(raw, nil) }); n != 0 {
		t.Errorf("%.1f allocations for a feedback message", n)
	}
	if err := feed.send(&rtcp.ReceiverReport{SSRC: 1}, twcc, &rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 9}); err != nil {
		t.Fatal(err)
	}
	if !takeKeyframeRequest(a) {
		t.Fatal("the PLI after the feedback did not reach the source")
	}
}

// TestUnbindStopsOutput checks that an unbound slot writes nothing, and that
// a later binding (another subscriber connection) gets a stream of its own
// that starts on a key frame.
func TestUnbindStopsOutput(t *testing.T) {
	n := newTestNet(t)
	a := n.publisher(forwardertest.VP8Config{SSRC: 0xA, KeyframeInterval: 1000}, 2)
	dt := NewDownTrack("v", "s")
	first, ctx := bindTrack(t, dt, 1)
	dt.SetSource(a.r)
	n.run(10, a)
	if err := dt.Unbind(ctx); err != nil {
		t.Fatal(err)
	}
	sent := first.count()
	n.run(5, a)
	if got := first.count(); got != sent {
		t.Fatalf("%d packets written after Unbind", got-sent)
	}
	second, _ := bindTrack(t, dt, 2)
	n.run(10, a)
	n.checkStream(t, "first binding", first.sent(), 1)
	n.checkStream(t, "second binding", second.sent(), 2)
}

// TestWaitForKeyframeUntilDelivered checks the behaviour before the
// subscriber's DTLS handshake is done, when pion drops writes and returns
// (0, nil): the slot stops writing at the first such write and, once writes
// go through, starts the subscriber's stream on a new key frame.
func TestWaitForKeyframeUntilDelivered(t *testing.T) {
	n := newTestNet(t)
	a := n.publisher(forwardertest.VP8Config{SSRC: 0xA, KeyframeInterval: 1000}, 2)
	dt := NewDownTrack("v", "s")
	rec, _ := bindTrack(t, dt, 3)
	rec.setReady(false)
	dt.SetSource(a.r)
	n.run(1, a) // a key frame, the first frame of the source
	if got := len(rec.droppedWrites()); got != 1 {
		t.Fatalf("%d writes tried for the first key frame before DTLS was ready, want 1", got)
	}
	n.run(5, a) // the slot's key frame requests bring another key frame
	for i, p := range rec.droppedWrites() {
		var d vp8.Descriptor
		if err := d.Unmarshal(p.payload); err != nil || !d.Keyframe {
			t.Fatalf("write %d before DTLS was ready is not a key frame start (%v)", i, err)
		}
	}
	rec.setReady(true)
	n.run(1, a)
	if rec.count() != 0 {
		t.Fatal("forwarded the middle of a GOP to a fresh subscriber")
	}
	n.run(10, a)
	n.checkStream(t, "slot", rec.sent(), 3)
	// Every dropped write restarted the slot; one more start went through.
	if st, restarts := dt.Stats(), len(rec.droppedWrites()); st.Packets != uint64(rec.count()) || st.Switches != uint64(restarts+1) {
		t.Errorf("stats %+v, want %d packets, %d switches", st, rec.count(), restarts+1)
	}
}

// TestPaddingOnlyIsNotForwarded checks that a padding-only packet is counted
// as received, not forwarded and leaves no gap in the output numbering.
func TestPaddingOnlyIsNotForwarded(t *testing.T) {
	n := newTestNet(t)
	a := n.publisher(forwardertest.VP8Config{SSRC: 0xA, FirstSeq: 65533}, 0)
	dt := NewDownTrack("v", "s")
	rec, _ := bindTrack(t, dt, 4)
	dt.SetSource(a.r)
	n.run(2, a)
	for range 3 {
		a.padding()
	}
	n.run(2, a)
	stream := n.checkStream(t, "slot", rec.sent(), 4)
	if len(stream) != int(a.r.Stats().Packets)-3 {
		t.Errorf("%d packets forwarded of %d received", len(stream), a.r.Stats().Packets)
	}
	// The input numbering has the gap the padding left; the output has not.
	gaps := 0
	for i := 1; i < len(stream); i++ {
		if stream[i].in.seq-stream[i-1].in.seq == 4 {
			gaps++
		}
	}
	if gaps != 1 {
		t.Errorf("%d input gaps of three padding packets, want 1", gaps)
	}
}
