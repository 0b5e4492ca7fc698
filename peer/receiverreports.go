package peer

import (
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// rrStream is one received stream's statistics (RFC 3550 A.1, A.3, A.8).
type rrStream struct {
	ssrc      uint32
	clockRate int64

	mu       sync.Mutex
	started  bool
	baseSeq  int64 // extended sequence number of the first packet
	maxSeq   uint16
	cycles   int64 // sequence number wraps, times 65536
	received int64
	// At the last report.
	expectedPrior, receivedPrior int64
	// Jitter (A.8), in RTP units scaled by 16.
	transit     int64
	haveTransit bool
	jitter16    int64
	// The last sender report: the middle 32 bits of its NTP time, and
	// when it came.
	lsr   uint32
	srAt  time.Time
	fresh bool // a packet or a sender report since the last report
}

// seqDropout: a jump forward by more than this many sequence numbers is
// taken as a restarted stream, not as that many packets lost (A.1).
const seqDropout = 3000

func (s *rrStream) packet(seq uint16, ts uint32, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fresh = true
	if !s.started {
		s.started = true
		s.baseSeq, s.maxSeq = int64(seq), seq
		s.received = 1
		s.noteTransit(ts, now)
		return
	}
	d := seq - s.maxSeq
	switch {
	case d == 0: // a duplicate
	case d < 1<<15: // in order, perhaps after a gap
		if d > seqDropout {
			s.restart(seq)
			break
		}
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = seq
		s.noteTransit(ts, now)
	default: // late, or a reordered packet
	}
	s.received++
}

// restart begins the counts anew from seq (the sender restarted).
func (s *rrStream) restart(seq uint16) {
	s.baseSeq, s.maxSeq, s.cycles = int64(seq), seq, 0
	s.received, s.expectedPrior, s.receivedPrior = 0, 0, 0
	s.haveTransit = false
}

// noteTransit folds one packet's transit time into the jitter estimate.
func (s *rrStream) noteTransit(ts uint32, now time.Time) {
	ns := now.UnixNano()
	sec, rem := ns/int64(time.Second), ns%int64(time.Second)
	arrival := sec*s.clockRate + rem*s.clockRate/int64(time.Second)
	transit := arrival - int64(ts)
	if s.haveTransit {
		d := transit - s.transit
		// A timestamp that wrapped shows as a transit jump of 2^32.
		d = int64(int32(d))
		if d < 0 {
			d = -d
		}
		s.jitter16 += d - (s.jitter16+8)>>4
	}
	s.transit, s.haveTransit = transit, true
}

func (s *rrStream) senderReport(ntp uint64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lsr = uint32(ntp >> 16)
	s.srAt = now
	s.fresh = true
}

// report is the stream's reception report block, and false when the
// stream told nothing new since the last one.
func (s *rrStream) report(now time.Time) (rtcp.ReceptionReport, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.fresh {
		return rtcp.ReceptionReport{}, false
	}
	s.fresh = false
	b := rtcp.ReceptionReport{SSRC: s.ssrc, LastSenderReport: s.lsr}
	if s.lsr != 0 {
		b.Delay = uint32(now.Sub(s.srAt) * 65536 / time.Second)
	}
	if !s.started {
		return b, true
	}
	ext := s.cycles + int64(s.maxSeq)
	expected := ext - s.baseSeq + 1
	lost := expected - s.received
	b.LastSequenceNumber = uint32(ext)
	b.TotalLost = uint32(max(-0x800000, min(0x7fffff, lost))) & 0xffffff
	expInt, recInt := expected-s.expectedPrior, s.received-s.receivedPrior
	s.expectedPrior, s.receivedPrior = expected, s.received
	if lostInt := expInt - recInt; expInt > 0 && lostInt > 0 {
		b.FractionLost = uint8(min(255, lostInt<<8/expInt))
	}
	b.Jitter = uint32(s.jitter16 >> 4)
	return b, true
}
