package peer

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// reports is confd's RTCP report interceptor (RFC 3550 §6.4). For each
// stream a PeerConnection sends it keeps what a sender report tells (the
// packet and octet counts, the RTP time of the last frame and when it
// went); for each stream it receives, what a reception report block
// tells (rrStream: the highest sequence number, the packets lost, the
// interarrival jitter and the echo of the client's last sender report).
//
// It has no goroutine of its own. The Media's report clock calls every
// PeerConnection's report in one round (reportClock.run), and each writes
// everything it has to say as one compound packet: a sender report per
// stream that is sending, then the reception blocks. Idle members so cost
// one wake-up a second between them all, and one datagram each.
type reports struct{ clock *reportClock }

// NewInterceptor implements interceptor.Factory.
func (f reports) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &reporter{clock: f.clock, remote: map[uint32]*rrStream{}, local: map[uint32]*srStream{}}, nil
}

// reporter is one PeerConnection's reports. It joins the clock's round
// when pion binds the RTCP writer and leaves it on Close.
type reporter struct {
	interceptor.NoOp
	clock *reportClock

	mu     sync.Mutex
	w      interceptor.RTCPWriter // nil before the bind and after Close
	remote map[uint32]*rrStream
	local  map[uint32]*srStream
}

// BindRTCPWriter joins the clock's round, reporting through w.
func (r *reporter) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	r.mu.Lock()
	r.w = w
	r.mu.Unlock()
	r.clock.add(r)
	return w
}

// Close leaves the round. A round already under way may still call
// report, which then finds no writer and says nothing.
func (r *reporter) Close() error {
	r.clock.remove(r)
	r.mu.Lock()
	r.w = nil
	r.mu.Unlock()
	return nil
}

// report writes this round's compound packet, when there is anything to
// say. It is called by the clock's goroutine alone, never under the
// reporter's lock across the write.
func (r *reporter) report(now time.Time) {
	r.mu.Lock()
	w := r.w
	var pkts []rtcp.Packet
	for _, s := range r.local {
		if sr, ok := s.report(now); ok {
			pkts = append(pkts, sr)
		}
	}
	var rr *rtcp.ReceiverReport
	for _, s := range r.remote {
		b, ok := s.report(now)
		if !ok {
			continue
		}
		if rr == nil || len(rr.Reports) == 31 { // the most one packet's 5-bit count holds
			rr = &rtcp.ReceiverReport{}
			pkts = append(pkts, rr)
		}
		rr.Reports = append(rr.Reports, b)
	}
	r.mu.Unlock()
	if w != nil && len(pkts) > 0 {
		_, _ = w.Write(pkts, interceptor.Attributes{})
	}
}

// BindLocalStream counts the stream's packets as they are written.
func (r *reporter) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s := &srStream{ssrc: info.SSRC, clockRate: clockRateOf(info)}
	r.mu.Lock()
	r.local[info.SSRC] = s
	r.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		n, err := w.Write(h, payload, a)
		if err == nil {
			s.packet(h.SequenceNumber, h.Timestamp, len(payload), time.Now())
		}
		return n, err
	})
}

// UnbindLocalStream stops reporting on the stream.
func (r *reporter) UnbindLocalStream(info *interceptor.StreamInfo) {
	r.mu.Lock()
	delete(r.local, info.SSRC)
	r.mu.Unlock()
}

// BindRemoteStream counts the stream's packets as they are read.
func (r *reporter) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	s := &rrStream{ssrc: info.SSRC, clockRate: clockRateOf(info)}
	r.mu.Lock()
	r.remote[info.SSRC] = s
	r.mu.Unlock()
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := reader.Read(b, a)
		if err == nil && n >= 12 {
			s.packet(binary.BigEndian.Uint16(b[2:4]), binary.BigEndian.Uint32(b[4:8]), time.Now())
		}
		return n, a, err
	})
}

// UnbindRemoteStream stops reporting on the stream.
func (r *reporter) UnbindRemoteStream(info *interceptor.StreamInfo) {
	r.mu.Lock()
	delete(r.remote, info.SSRC)
	r.mu.Unlock()
}

// BindRTCPReader notes the sender reports the client sends, for the LSR
// and DLSR of the next reception report.
func (r *reporter) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := reader.Read(b, a)
		if err != nil || !hasSenderReport(b[:n]) {
			return n, a, err
		}
		if a == nil {
			a = interceptor.Attributes{}
		}
		pkts, perr := a.GetRTCPPackets(b[:n])
		if perr != nil {
			return n, a, nil // not ours to refuse: the next reader decides
		}
		now := time.Now()
		for _, p := range pkts {
			sr, ok := p.(*rtcp.SenderReport)
			if !ok {
				continue
			}
			r.mu.Lock()
			s := r.remote[sr.SSRC]
			r.mu.Unlock()
			if s != nil {
				s.senderReport(sr.NTPTime, now)
			}
		}
		return n, a, nil
	})
}

// clockRateOf is a stream's RTP clock rate, 90 kHz when pion gives none.
func clockRateOf(info *interceptor.StreamInfo) int64 {
	if info.ClockRate == 0 {
		return 90000
	}
	return int64(info.ClockRate)
}

// hasSenderReport says whether a compound RTCP packet holds a sender
// report (packet type 200), looking at the headers alone.
func hasSenderReport(b []byte) bool {
	for len(b) >= 4 {
		if b[1] == uint8(rtcp.TypeSenderReport) {
			return true
		}
		n := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	return false
}

// senderSilence is how long a stream may send nothing and still be
// reported as a sender: two report intervals (RFC 3550 §6.4). A slot with
// no publisher, or a paused one, then stops sending sender reports until
// its next packet.
const senderSilence = 2 * reportInterval

// srStream is what one sent stream's sender report tells (RFC 3550
// §6.4.1). packet runs on the stream's writer, report on the clock.
type srStream struct {
	ssrc      uint32
	clockRate int64

	mu      sync.Mutex
	packets uint32 // both counts wrap, as the report's fields do
	octets  uint32
	// The frame the RTP time is told from: its timestamp, when its first
	// packet went and that packet's sequence number (so that a
	// retransmission or a reordered write does not move it back).
	frameTS  uint32
	frameAt  time.Time
	frameSeq uint16
	lastAt   time.Time // the last packet of any kind
}

func (s *srStream) packet(seq uint16, ts uint32, payload int, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastAt.IsZero() {
		s.frameTS, s.frameAt, s.frameSeq = ts, now, seq
	} else if d := seq - s.frameSeq; d != 0 && d < 1<<15 {
		s.frameSeq = seq
		if ts != s.frameTS { // the first packet of a new frame
			s.frameTS, s.frameAt = ts, now
		}
	}
	s.packets++
	s.octets += uint32(payload)
	s.lastAt = now
}

// report is the stream's sender report at now, the RTP time moved on from
// the last frame's at the clock rate; false when the stream has not sent
// in the last senderSilence.
func (s *srStream) report(now time.Time) (*rtcp.SenderReport, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastAt.IsZero() || now.Sub(s.lastAt) > senderSilence {
		return nil, false
	}
	elapsed := now.Sub(s.frameAt)
	return &rtcp.SenderReport{
		SSRC:        s.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     s.frameTS + uint32(int64(elapsed)*s.clockRate/int64(time.Second)),
		PacketCount: s.packets,
		OctetCount:  s.octets,
	}, true
}

// ntpTime is t in the 64-bit NTP format of RFC 3550 §4: seconds since
// 1900 in the high word, the fraction of a second in the low.
func ntpTime(t time.Time) uint64 {
	const from1900 = 2208988800 // seconds from 1900 to 1970
	return (uint64(t.Unix())+from1900)<<32 | uint64(t.Nanosecond())<<32/uint64(time.Second)
}
