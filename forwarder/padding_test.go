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
