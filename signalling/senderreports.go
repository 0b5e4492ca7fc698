package signalling

import (
	"errors"
	"io"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder"
)

// rtcpRead reads one RTCP compound packet into b.
type rtcpRead func(b []byte) (int, interceptor.Attributes, error)

// readSenderReports reads the RTCP a publisher sends for one layer of rr
// (rid "" for a single-layer track) until rr is closed, and hands every
// sender report (RFC 3550 §6.4.1) to recv: a slot switching between two
// layers of one publisher lines their timestamps up with them. Reading
// through rr also lets the RTCP report interceptor see the sender
// reports it answers with LSR/DLSR in its receiver reports. It runs as
// one of the call's media goroutines.
func readSenderReports(rr *webrtc.RTPReceiver, rid string, recv *forwarder.Receiver) {
	read := rtcpRead(rr.Read)
	if rid != "" {
		read = func(b []byte) (int, interceptor.Attributes, error) { return rr.ReadSimulcast(b, rid) }
	}
	forwardSenderReports(read, recv)
}

// forwardSenderReports is readSenderReports' loop, with one buffer for
// all reads.
func forwardSenderReports(read rtcpRead, recv *forwarder.Receiver) {
	buf := make([]byte, forwarder.MaxPacketSize)
	for {
		n, _, err := read(buf)
		if errors.Is(err, io.ErrShortBuffer) {
			continue // that packet is lost; the next report comes in a second
		}
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				recv.SenderReport(sr.SSRC, sr.NTPTime, sr.RTPTime)
			}
		}
	}
}
