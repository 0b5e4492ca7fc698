package forwarder

import (
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/confd/confd/forwarder/forwardertest"
)

// TestMungerPad: padding takes the output numbers right after the last
// packet, at its timestamp; the media goes on after them; a NACK for a
// padding number maps to nothing, one for media on either side to its
// packet.
func TestMungerPad(t *testing.T) {
	var m Munger
	src := new(Receiver)
	p := mungerPacket(n4(500, 9000, 7, 3))
	m.Switch(src, p, 0)
	for i := range uint16(3) {
		if _, ok := m.Translate(mungerPacket(n4(500+i, 9000, 7, 3)), 0); !ok {
			t.Fatal("refused")
		}
	}
	first, ts, ok := m.Pad(4)
	if !ok || first != 503 || ts != 9000 {
		t.Fatalf("Pad = %d, %d, %v; want 503, 9000", first, ts, ok)
	}
	got, ok := m.Translate(mungerPacket(n4(503, 12000, 8, 3)), 0)
	if !ok || got.Seq != 507 || got.TS != 12000 || got.PictureID != 8 {
		t.Fatalf("after padding: %+v, want seq 507", got)
	}
	if _, _, ok := m.Pad(2); !ok {
		t.Fatal("second Pad refused")
	}
	// 508 and 509 are padding; the next packet is 510.
	if got, _ := m.Translate(mungerPacket(n4(504, 12000, 8, 3)), 0); got.Seq != 510 {
		t.Fatalf("after the second padding: seq %d, want 510", got.Seq)
	}
	for out, want := range map[uint16]int{500: 500, 502: 502, 503: -1, 506: -1, 507: 503, 508: -1, 509: -1, 510: 504} {
		seg, in, ok := m.Reverse(out)
		switch {
		case want < 0 && ok:
			t.Errorf("Reverse(%d) = %d: padding mapped to media", out, in)
		case want >= 0 && (!ok || int(in) != want || seg.src != src):
			t.Errorf("Reverse(%d) = %d, %v; want %d", out, in, ok, want)
		}
	}
	var empty Munger
	if _, _, ok := empty.Pad(3); ok {
		t.Error("Pad before any packet")
	}
}

// TestDownTrackPadding: a probing slot sends padding-only packets after
// whole frames, at about the rate asked, on its own sequence numbers; the
// media around them is untouched and a NACK for padding resends nothing.
func TestDownTrackPadding(t *testing.T) {
	n := newTestNet(t)
	a := n.publisher(forwardertest.VP8Config{SSRC: 0xA, TemporalLayers: true}, 0)
	dt := NewDownTrack("v", "s")
	rec, _ := bindTrack(t, dt, 5)
	dt.SetSource(a.r)
	n.run(5, a)
	const bps = 400_000
	dt.SetPadding(bps)
	start := n.now
	n.run(60, a)
	span := time.Duration(n.now - start)
	dt.SetPadding(0)
	n.run(5, a)
	pkts := rec.sent()
	var media []sentPacket
	padBytes := 0
	for i, p := range pkts {
		if i > 0 && p.hdr.SequenceNumber != pkts[i-1].hdr.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, p.hdr.SequenceNumber, pkts[i-1].hdr.SequenceNumber)
		}
		if !p.hdr.Padding {
			media = append(media, p)
			continue
		}
		prev := pkts[i-1].hdr
		if len(p.payload) != 0 || p.hdr.PaddingSize != padPayload || p.hdr.Marker || p.hdr.SSRC != 5 ||
			p.hdr.Timestamp != prev.Timestamp || !(prev.Marker || prev.Padding) {
			t.Fatalf("packet %d: bad padding %+v after %+v", i, p.hdr, prev)
		}
		padBytes += padPacketBytes
	}
	if got := float64(padBytes*8) / span.Seconds(); got < 0.8*bps || got > 1.1*bps {
		t.Errorf("padding at %.0f bit/s, want about %d", got, bps)
	}
	if st := dt.Stats(); st.PaddingBytes != uint64(padBytes) {
		t.Errorf("PaddingBytes %d, want %d", st.PaddingBytes, padBytes)
	}
	// The media alone is one stream but for the numbers the padding took.
	for i := range media {
		n.trace(t, "media", i, media[i], 5)
	}
	// NACKs: for padding nothing, for media the packet.
	feed, stop := serveRTCP(dt)
	defer stop()
	var padSeq, mediaSeq uint16
	for _, p := range pkts[len(pkts)/2:] {
		if p.hdr.Padding && padSeq == 0 {
			padSeq = p.hdr.SequenceNumber
		}
	}
	mediaSeq = media[len(media)-10].hdr.SequenceNumber
	before := rec.count()
	if err := feed.send(&rtcp.TransportLayerNack{MediaSSRC: 5, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{padSeq})}); err != nil {
		t.Fatal(err)
	}
	if rec.count() != before {
		t.Errorf("a NACK for padding %d resent something", padSeq)
	}
	if err := feed.send(&rtcp.TransportLayerNack{MediaSSRC: 5, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{mediaSeq})}); err != nil {
		t.Fatal(err)
	}
	if got := rec.sent(); len(got) != before+1 || got[before].hdr.SequenceNumber != mediaSeq || string(got[before].payload) != string(media[len(media)-10].payload) {
		t.Errorf("a NACK for media %d did not resend it", mediaSeq)
	}
}

// TestDownTrackPaddingLowFrameRate: a slot forwarding the base temporal
// layer of a 30 fps layer, 7.5 frames a second, pads at the rate asked
// over a probe's time (one frame's padding burst could not: maxPadBurst
// packets per frame is 480 kbit/s at that frame rate). The padding owed
// accrues with time and goes out after any packet of its layer the slot
// handles, the frames it leaves out included, while its output stands
// between two frames: never inside a frame, never more than maxPadBurst
// in one burst.
func TestDownTrackPaddingLowFrameRate(t *testing.T) {
	n := newTestNet(t)
	sim := newSim(n, nil)
	n.run(3, sim)
	dt, rec := slotOn(t, sim.r, 9, 640, 360)
	dt.setLimit(Layer{Spatial: 1, Temporal: 0})
	// Another subscriber's slot on the same layer, at its full frame
	// rate: the layer's reader writes its packets from the same scratch.
	other, _ := slotOn(t, sim.r, 10, 640, 360)
	n.run(20, sim)
	if st := other.Stats(); st.Current.Spatial != 1 || st.Packets == 0 {
		t.Fatalf("the other slot: %+v", st)
	}
	if st := dt.Stats(); st.Current != (Layer{Spatial: 1, Temporal: 0}) {
		t.Fatalf("the slot forwards %+v, want h at TID 0", st.Current)
	}
	const bps = 1_500_000
	probeTime := AllocatorConfig{}.withDefaults().ProbeTime
	from := len(rec.sent())
	start := n.now
	dt.SetPadding(bps)
	// Frame by frame: each frame's packets, and the padding after them,
	// go out within padBurstSpan.
	for range int(int64(probeTime) / frameInterval) {
		before := dt.Stats().PaddingBytes
		n.run(1, sim)
		if burst := (dt.Stats().PaddingBytes - before) / padPacketBytes; burst > maxPadBurst {
			t.Fatalf("%d padding packets in one frame's time, want at most %d", burst, maxPadBurst)
		}
	}
	span := time.Duration(n.now - start)
	dt.SetPadding(0)
	n.run(5, sim)

	all := rec.sent()
	padBytes, frames := 0, 0
	for i := from; i < len(all); i++ {
		p, prev := all[i], all[i-1]
		if p.hdr.SequenceNumber != prev.hdr.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, p.hdr.SequenceNumber, prev.hdr.SequenceNumber)
		}
		if !p.hdr.Padding {
			n.trace(t, "media", i, p, 9)
			if p.hdr.Marker {
				frames++
			}
			continue
		}
		if !(prev.hdr.Marker || prev.hdr.Padding) || p.hdr.Timestamp != prev.hdr.Timestamp || len(p.payload) != 0 {
			t.Fatalf("packet %d: padding %+v after %+v: inside a frame", i, p.hdr, prev.hdr)
		}
		if h := p.hdr; h.SSRC != 9 || h.PayloadType != negotiatedPT || h.Version != 2 || h.Marker || h.Extension ||
			len(h.CSRC) != 0 || h.PaddingSize != padPayload {
			t.Fatalf("packet %d: padding header %+v", i, h)
		}
		padBytes += padPacketBytes
	}
	if fps := float64(frames) / span.Seconds(); fps < 6.5 || fps > 9 {
		t.Fatalf("%.1f frames a second forwarded, want 7.5", fps)
	}
	if got := float64(padBytes*8) / span.Seconds(); got < 0.9*bps || got > 1.05*bps {
		t.Errorf("padding at %.0f bit/s over %v, want about %d", got, span, bps)
	}
	if st := dt.Stats(); st.PaddingBytes != uint64(padBytes) {
		t.Errorf("PaddingBytes %d, want %d", st.PaddingBytes, padBytes)
	}
}
