package dialin

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/confd/confd/mixer"
)

// rtcpInterval is how often confd sends a report. RFC 3550 §6.2 scales the
// interval with the session size and bandwidth; a two-party G.711 leg sits
// at the 5 s minimum that section recommends.
const rtcpInterval = 5 * time.Second

// sendStats counts what confd sent, for its sender reports.
type sendStats struct {
	packets, octets uint32
	lastTS          uint32
}

// recvStats follows the peer's stream for reception report blocks: the
// extended highest sequence number (RFC 3550 A.1), cumulative and
// fractional loss (A.3) and interarrival jitter (A.8). It is updated under
// the media port's lock by the reader goroutine.
type recvStats struct {
	ssrc            uint32
	started         bool
	baseSeq, maxSeq uint16
	cycles          uint32
	received        uint32
	expectedPrior   uint32
	receivedPrior   uint32
	transit         int64
	jitter          uint32 // ×16, as in A.8
	lastSR          uint32 // middle 32 bits of the peer's last SR NTP time
	lastSRAt        int64  // mixer.Now() when it arrived
	rtcpSeen        uint64
}

// maxDropout is A.1's bound on a forward jump still taken as the same
// sequence; a larger one restarts the count (the peer restarted).
const maxDropout = 3000

func (s *recvStats) update(h *rtp.Header, now int64) {
	if !s.started || h.SSRC != s.ssrc {
		*s = recvStats{ssrc: h.SSRC, started: true, baseSeq: h.SequenceNumber, maxSeq: h.SequenceNumber, lastSR: s.lastSR, lastSRAt: s.lastSRAt, rtcpSeen: s.rtcpSeen}
		s.transit = arrivalRTP(now) - int64(h.Timestamp)
	}
	delta := h.SequenceNumber - s.maxSeq
	switch {
	case delta == 0:
	case delta < maxDropout:
		if h.SequenceNumber < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = h.SequenceNumber
	case delta > 1<<16-100: // a late or duplicate packet: no change
	default:
		s.baseSeq, s.maxSeq, s.cycles, s.received = h.SequenceNumber, h.SequenceNumber, 0, 0
	}
	s.received++
	transit := arrivalRTP(now) - int64(h.Timestamp)
	d := transit - s.transit
	s.transit = transit
	if d < 0 {
		d = -d
	}
	s.jitter += uint32(d) - (s.jitter+8)>>4
}

// arrivalRTP converts a mixer.Now() time into 8 kHz RTP units.
func arrivalRTP(now int64) int64 { return now / (int64(time.Second) / 8000) }

// block is the reception report block for the interval since the last one.
func (s *recvStats) block(now int64) (rtcp.ReceptionReport, bool) {
	if !s.started {
		return rtcp.ReceptionReport{}, false
	}
	ext := s.cycles + uint32(s.maxSeq)
	expected := ext - uint32(s.baseSeq) + 1
	lost := int64(expected) - int64(s.received)
	interval := expected - s.expectedPrior
	lostInterval := int64(interval) - int64(s.received-s.receivedPrior)
	s.expectedPrior, s.receivedPrior = expected, s.received
	var fraction uint8
	if interval > 0 && lostInterval > 0 {
		fraction = uint8((lostInterval << 8) / int64(interval))
	}
	r := rtcp.ReceptionReport{
		SSRC: s.ssrc, FractionLost: fraction, TotalLost: uint32(max(0, min(lost, 1<<23-1))),
		LastSequenceNumber: ext, Jitter: s.jitter >> 4, LastSenderReport: s.lastSR,
	}
	if s.lastSRAt != 0 {
		r.Delay = uint32((now - s.lastSRAt) * 65536 / int64(time.Second)) // 1/65536 s units
	}
	return r, true
}

// ntpTime is t in the 64-bit NTP format of RFC 3550 §4.
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800 // seconds from 1900 to 1970
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

// noteSenderReport records the peer's SR time for LSR/DLSR (RFC 3550
// §6.4.1): the middle 32 bits of its NTP timestamp and when it arrived.
func (s *recvStats) noteSenderReport(b []byte, now int64) {
	if len(b) >= 28 && b[1] == 200 {
		s.lastSR = uint32(binary.BigEndian.Uint64(b[8:]) >> 16)
		s.lastSRAt = now
	}
}

// report builds the compound RTCP packet (RFC 3550 §6.1): a sender report
// while confd sends, else a receiver report, then the SDES CNAME every
// compound packet must carry. It runs every few seconds on the call
// goroutine, so allocating here is fine.
func (p *mediaPort) report(cname string) ([]byte, netip.AddrPort) {
	now := mixer.Now()
	p.mu.Lock()
	blocks := []rtcp.ReceptionReport(nil)
	if b, ok := p.recv.block(now); ok {
		blocks = append(blocks, b)
	}
	var first rtcp.Packet = &rtcp.ReceiverReport{SSRC: p.out.ssrc, Reports: blocks}
	if p.sent.packets > 0 {
		first = &rtcp.SenderReport{
			SSRC: p.out.ssrc, NTPTime: ntpTime(time.Now()), RTPTime: p.sent.lastTS,
			PacketCount: p.sent.packets, OctetCount: p.sent.octets, Reports: blocks,
		}
	}
	dst := p.remoteRTCP
	p.mu.Unlock()
	sdes := rtcp.NewCNAMESourceDescription(p.out.ssrc, cname)
	b, err := rtcp.Marshal([]rtcp.Packet{first, sdes})
	if err != nil {
		return nil, dst
	}
	return b, dst
}

// sendReport sends one RTCP report; it runs on the call goroutine.
func (p *mediaPort) sendReport(cname string) {
	b, dst := p.report(cname)
	if b != nil && dst.IsValid() && !p.closed.Load() {
		_, _ = p.rtcp.WriteToUDPAddrPort(b, dst)
	}
}
