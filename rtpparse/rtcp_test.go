package rtpparse

import (
	"bytes"
	"testing"

	"github.com/pion/rtcp"
)

func TestNextRTCP(t *testing.T) {
	parts := []rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: 1},
		&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2},
		&rtcp.ReceiverReport{SSRC: 3, Reports: []rtcp.ReceptionReport{{SSRC: 4}}},
	}
	compound, err := rtcp.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	b := compound
	for i, p := range parts {
		want, _ := p.Marshal()
		pkt, rest, ok := NextRTCP(b)
		if !ok || !bytes.Equal(pkt, want) {
			t.Fatalf("packet %d: %x (%v), want %x", i, pkt, ok, want)
		}
		b = rest
	}
	if _, _, ok := NextRTCP(b); ok || len(b) != 0 {
		t.Fatalf("%d octets left over", len(b))
	}
	// A length past the end, or a header cut short, ends the walk.
	for _, cut := range [][]byte{compound[:len(compound)-1], compound[:3]} {
		b, n := cut, 0
		for {
			_, rest, ok := NextRTCP(b)
			if !ok {
				break
			}
			b, n = rest, n+1
		}
		if n >= len(parts) {
			t.Errorf("a compound cut to %d octets gave %d whole packets", len(cut), n)
		}
	}
}

func FuzzNextRTCP(f *testing.F) {
	compound, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1}, &rtcp.PictureLossIndication{MediaSSRC: 2}})
	f.Add(compound)
	f.Fuzz(func(t *testing.T, b []byte) {
		// The packets are consecutive pieces of b, each as long as its
		// header says.
		seen := 0
		for pkt, rest, ok := NextRTCP(b); ok; pkt, rest, ok = NextRTCP(rest) {
			if len(pkt) < 4 || len(pkt)%4 != 0 || !bytes.Equal(pkt, b[seen:seen+len(pkt)]) {
				t.Fatalf("piece %x at %d of %x", pkt, seen, b)
			}
			seen += len(pkt)
		}
	})
}
