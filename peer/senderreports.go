package peer

import (
	"errors"
	"io"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder"
)

// readSenderReports reads the RTCP a publisher sends for one layer of rr
// (rid "" for a single-layer track) until rr is closed, and hands every
// sender report (RFC 3550 §6.4.1) to recv: a slot switching between two
// layers of one publisher lines their timestamps up with them. Reading
// through rr also lets the RTCP report interceptor see the sender
// reports it answers with LSR/DLSR in its receiver reports. It runs as
// one of the peer's goroutines, with one buffer for all reads.
func readSenderReports(rr *webrtc.RTPReceiver, rid string, recv *forwarder.Receiver) {
	buf := make([]byte, forwarder.MaxPacketSize)
	for {
		var n int
		var err error
		if rid == "" {
			n, _, err = rr.Read(buf)
		} else {
			n, _, err = rr.ReadSimulcast(buf, rid)
		}
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
