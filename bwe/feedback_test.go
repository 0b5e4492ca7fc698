package bwe

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pion/rtcp"
)

// packetReport is what a receiver says of one packet: at is its arrival
// in µs after the reference time, a multiple of 250.
type packetReport struct {
	received bool
	at       int64
}

// encodeFeedback writes a feedback message with pion's rtcp package (an
// encoder independent of the parser under test). chunks picks each
// chunk's kind: 0 a run where the statuses repeat, 1 seven 2-bit
// symbols, 2 fourteen 1-bit ones where no delta is large.
func encodeFeedback(t testing.TB, base uint16, ref uint32, fbCount uint8, reports []packetReport, rng *rand.Rand) []byte {
	t.Helper()
	syms := make([]uint16, len(reports))
	var deltas []*rtcp.RecvDelta
	var last int64
	for i, r := range reports {
		if !r.received {
			syms[i] = rtcp.TypeTCCPacketNotReceived
			continue
		}
		d := r.at - last
		last = r.at
		syms[i] = rtcp.TypeTCCPacketReceivedLargeDelta
		if d >= 0 && d <= 255*250 {
			syms[i] = rtcp.TypeTCCPacketReceivedSmallDelta
		}
		deltas = append(deltas, &rtcp.RecvDelta{Type: syms[i], Delta: d})
	}
	var chunks []rtcp.PacketStatusChunk
	for i := 0; i < len(syms); {
		run := 1
		for i+run < len(syms) && syms[i+run] == syms[i] && run < 0x1fff {
			run++
		}
		oneBit := true
		for j := i; j < min(i+14, len(syms)); j++ {
			oneBit = oneBit && syms[j] != rtcp.TypeTCCPacketReceivedLargeDelta
		}
		kind := rng.IntN(3)
		switch {
		case kind == 0 || run >= 14 || i+7 > len(syms):
			chunks = append(chunks, &rtcp.RunLengthChunk{PacketStatusSymbol: syms[i], RunLength: uint16(run)})
			i += run
		case kind == 2 && oneBit && i+14 <= len(syms):
			list := make([]uint16, 14)
			copy(list, syms[i:i+14])
			chunks = append(chunks, &rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeOneBit, SymbolList: list})
			i += 14
		default:
			list := make([]uint16, 7)
			copy(list, syms[i:i+7])
			chunks = append(chunks, &rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: list})
			i += 7
		}
	}
	fb := &rtcp.TransportLayerCC{
		SenderSSRC: 1, MediaSSRC: 2, BaseSequenceNumber: base, PacketStatusCount: uint16(len(reports)),
		ReferenceTime: ref, FbPktCount: fbCount, PacketChunks: chunks, RecvDeltas: deltas,
	}
	size := fb.MarshalSize()
	fb.Header = rtcp.Header{
		Padding: size != 20+2*len(chunks)+deltaOctets(deltas), Count: rtcp.FormatTCC,
		Type: rtcp.TypeTransportSpecificFeedback, Length: uint16(size/4 - 1),
	}
	b, err := fb.Marshal()
	if err != nil {
		t.Fatalf("pion marshal: %v", err)
	}
	return b
}

func deltaOctets(deltas []*rtcp.RecvDelta) int {
	n := 0
	for _, d := range deltas {
		n++
		if d.Type == rtcp.TypeTCCPacketReceivedLargeDelta {
			n++
		}
	}
	return n
}

// randomReports makes n packets' reports: a loss now and then, arrivals a
// few ms apart, sometimes a long gap or a step back (a large delta).
func randomReports(rng *rand.Rand, n int) []packetReport {
	out := make([]packetReport, n)
	at := int64(rng.IntN(1000)) * 250
	for i := range out {
		if rng.IntN(8) == 0 {
			continue
		}
		switch rng.IntN(10) {
		case 0:
			at += int64(rng.IntN(4000)) * 250 // a long gap
		case 1:
			at -= int64(rng.IntN(40)) * 250 // arrived before the one before
		default:
			at += int64(rng.IntN(40)) * 250
		}
		out[i] = packetReport{received: true, at: at}
	}
	return out
}

func TestParseFeedbackAgreesWithPion(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var scratch []Arrival
	for round := range 500 {
		n := 1 + rng.IntN(300)
		reports := randomReports(rng, n)
		base := uint16(rng.Uint32())
		ref := rng.Uint32() & (1<<24 - 1)
		pkt := encodeFeedback(t, base, ref, uint8(round), reports, rng)
		fb, got, err := ParseFeedback(pkt, scratch[:0])
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		scratch = got
		if fb.Base != base || int(fb.Count) != n || fb.Ref != ref || fb.Seq != uint8(round) || fb.SenderSSRC != 1 || fb.MediaSSRC != 2 {
			t.Fatalf("round %d: header %+v, want base %d count %d ref %d", round, fb, base, n, ref)
		}
		if len(got) != n {
			t.Fatalf("round %d: %d arrivals, want %d", round, len(got), n)
		}
		for i, a := range got {
			r := reports[i]
			if a.Seq != base+uint16(i) || a.Received != r.received || (r.received && a.At != r.at) {
				t.Fatalf("round %d packet %d: got %+v, want %+v", round, i, a, r)
			}
		}
	}
}

func TestParseFeedbackRefusesWhatIsBroken(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	good := encodeFeedback(t, 10, 5, 0, randomReports(rng, 40), rng)
	if _, _, err := ParseFeedback(good, nil); err != nil {
		t.Fatalf("good feedback: %v", err)
	}
	cases := map[string]struct {
		pkt  []byte
		want error
	}{
		"a receiver report": {[]byte{0x81, 201, 0, 1, 0, 0, 0, 1}, ErrNotFeedback},
		"shorter than said": {good[:len(good)-4], ErrShortFeedback},
		"no deltas":         {withLength(good[:24]), ErrShortFeedback},
		"symbol 3":          {withChunk(good, 0x6000|5), ErrBadSymbol},
		"too many packets":  {withCount(good, maxFeedbackPackets+1), ErrTooMany},
		"header alone":      {good[:16], ErrShortFeedback},
	}
	for name, c := range cases {
		if _, got, err := ParseFeedback(c.pkt, make([]Arrival, 0, 8)); !errors.Is(err, c.want) || len(got) != 0 {
			t.Errorf("%s: err %v with %d arrivals, want %v and none", name, err, len(got), c.want)
		}
	}
}

// withLength gives a truncated packet a header length that matches it.
func withLength(b []byte) []byte {
	b = append([]byte(nil), b...)
	n := len(b)/4 - 1
	b[2], b[3] = byte(n>>8), byte(n)
	return b
}

func withChunk(b []byte, chunk uint16) []byte {
	b = append([]byte(nil), b...)
	b[20], b[21] = byte(chunk>>8), byte(chunk)
	return b
}

func withCount(b []byte, count int) []byte {
	b = append([]byte(nil), b...)
	b[14], b[15] = byte(count>>8), byte(count)
	return b
}

func TestParseFeedbackAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pkt := encodeFeedback(t, 100, 7, 1, randomReports(rng, 200), rng)
	scratch := make([]Arrival, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		_, scratch, _ = ParseFeedback(pkt, scratch[:0])
	}); n != 0 {
		t.Fatalf("%.1f allocations per feedback", n)
	}
}

func FuzzParseFeedback(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 7, 14, 60} {
		f.Add(encodeFeedback(f, 1, 2, 3, randomReports(rng, n), rng))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fb, got, err := ParseFeedback(b, nil)
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("refused with %d arrivals", len(got))
			}
			return
		}
		if len(got) != int(fb.Count) {
			t.Fatalf("%d arrivals for a count of %d", len(got), fb.Count)
		}
		// What pion's parser reads of it, where it reads it at all,
		// says the same of each packet's arrival.
		var p rtcp.TransportLayerCC
		if p.Unmarshal(b) != nil || len(p.RecvDeltas) == 0 {
			return
		}
		received := 0
		for _, a := range got {
			if a.Received {
				received++
			}
		}
		if received != len(p.RecvDeltas) {
			return // pion reads the count differently where chunks overrun it
		}
		var at int64
		i := 0
		for _, a := range got {
			if !a.Received {
				continue
			}
			at += p.RecvDeltas[i].Delta
			i++
			if a.At != at {
				t.Fatalf("packet %d at %d µs, pion says %d", a.Seq, a.At, at)
			}
		}
	})
}
