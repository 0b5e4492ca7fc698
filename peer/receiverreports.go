package peer

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
)

// receiverReports is confd's RTCP receiver-report generator (RFC 3550
// §6.4.2, appendix A.3 and A.8): for each stream a client sends, the
// highest sequence number, the packets lost, the interarrival jitter and
// the echo of its last sender report, on the Media's one report clock.
// All of a PeerConnection's streams go into one compound report. A stream
// that told the PeerConnection nothing since its last report (no packet,
// no sender report: a muted microphone, a camera section never used) is
// left out: its report would repeat the last one, and a PeerConnection
// with nothing to say sends nothing.
type receiverReports struct{ clock *reportClock }

// NewInterceptor implements interceptor.Factory.
func (f receiverReports) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &rrGenerator{clock: f.clock, streams: map[uint32]*rrStream{}, closed: make(chan struct{})}, nil
}

// rrGenerator is one PeerConnection's receiver reports. Its goroutine
// (loop) starts when pion binds the RTCP writer and ends with Close,
// which waits for it.
type rrGenerator struct {
	interceptor.NoOp
	clock *reportClock

	mu      sync.Mutex
	streams map[uint32]*rrStream

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

// BindRTCPWriter starts reporting through w.
func (g *rrGenerator) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	g.wg.Add(1)
	go g.loop(w)
	return w
}

func (g *rrGenerator) loop(w interceptor.RTCPWriter) {
	defer g.wg.Done()
	t := g.clock.ticker(reportInterval)
	defer t.Stop()
	for {
		select {
		case <-g.closed:
			return
		case now := <-t.Ch():
			if pkts := g.reports(now); len(pkts) > 0 {
				_, _ = w.Write(pkts, interceptor.Attributes{})
			}
		}
	}
}

// reports builds this tick's receiver reports, at most 31 blocks each.
func (g *rrGenerator) reports(now time.Time) []rtcp.Packet {
	g.mu.Lock()
	defer g.mu.Unlock()
	var pkts []rtcp.Packet
	var rr *rtcp.ReceiverReport
	for _, s := range g.streams {
		b, ok := s.report(now)
		if !ok {
			continue
		}
		if rr == nil || len(rr.Reports) == 31 {
			rr = &rtcp.ReceiverReport{}
			pkts = append(pkts, rr)
		}
		rr.Reports = append(rr.Reports, b)
	}
	return pkts
}

// BindRemoteStream counts the stream's packets as they are read.
func (g *rrGenerator) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	s := &rrStream{ssrc: info.SSRC, clockRate: int64(info.ClockRate)}
	if s.clockRate <= 0 {
		s.clockRate = 90000
	}
	g.mu.Lock()
	g.streams[info.SSRC] = s
	g.mu.Unlock()
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := reader.Read(b, a)
		if err == nil && n >= 12 {
			s.packet(binary.BigEndian.Uint16(b[2:4]), binary.BigEndian.Uint32(b[4:8]), time.Now())
		}
		return n, a, err
	})
}

// UnbindRemoteStream stops reporting on the stream.
func (g *rrGenerator) UnbindRemoteStream(info *interceptor.StreamInfo) {
	g.mu.Lock()
	delete(g.streams, info.SSRC)
	g.mu.Unlock()
}

// BindRTCPReader notes the sender reports the client sends, for the LSR
// and DLSR of the next receiver report.
func (g *rrGenerator) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
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
			g.mu.Lock()
			s := g.streams[sr.SSRC]
			g.mu.Unlock()
			if s != nil {
				s.senderReport(sr.NTPTime, now)
			}
		}
		return n, a, nil
	})
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

// Close stops reporting and waits for the loop.
func (g *rrGenerator) Close() error {
	g.closeOnce.Do(func() { close(g.closed) })
	g.wg.Wait()
	return nil
}

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
