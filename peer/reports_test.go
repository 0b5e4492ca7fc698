package peer

import (
	"testing"

	"github.com/pion/rtcp"
)

// TestQuietReportsLeaveOutRepeats: a receiver report that says what the
// stream's previous one said is left out; one with a new packet or a new
// sender report, or of another stream, goes out.
func TestQuietReportsLeaveOutRepeats(t *testing.T) {
	q := &quietReports{}
	rr := func(ssrc, seq, lsr uint32) []rtcp.Packet {
		return []rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: ssrc, LastSequenceNumber: seq, LastSenderReport: lsr}}}}
	}
	steps := []struct {
		pkts  []rtcp.Packet
		stale bool
	}{
		{rr(7, 0, 0), true},     // never heard from
		{rr(7, 100, 0), false},  // a packet came
		{rr(7, 100, 0), true},   // nothing since
		{rr(7, 100, 55), false}, // a sender report came
		{rr(8, 100, 55), false}, // another stream
		{rr(7, 101, 55), false},
		{[]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 7}}, false},
	}
	for i, s := range steps {
		if got := q.stale(s.pkts); got != s.stale {
			t.Errorf("step %d: stale %v, want %v", i, got, s.stale)
		}
	}
}
