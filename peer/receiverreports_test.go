package peer

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// TestPublisherGetsReceiverReports: a client hears how its streams
// arrive. Its camera, whose uplink loses every tenth packet, is told of
// the loss (a share near 10 % and a growing total); its microphone, which
// loses nothing, of none; the reports count up to the sequence numbers it
// sent and echo its sender reports (LSR).
func TestPublisherGetsReceiverReports(t *testing.T) {
	env := newEnv(t)
	ctx := testCtx(t)
	a, _ := env.join(t, "3500", "alice")
	ca := newClient(t, 440, 0xA)
	ca.dropEvery = 10
	connect(ctx, t, a, ca, 0)

	var mu sync.Mutex
	last := map[webrtc.RTPCodecType]rtcp.ReceptionReport{}
	ca.readRTCP(func(kind webrtc.RTPCodecType, ssrc uint32, p rtcp.Packet) {
		rr, ok := p.(*rtcp.ReceiverReport)
		if !ok {
			return
		}
		for _, b := range rr.Reports {
			if b.SSRC == ssrc {
				mu.Lock()
				last[kind] = b
				mu.Unlock()
			}
		}
	})
	report := func(k webrtc.RTPCodecType) rtcp.ReceptionReport {
		mu.Lock()
		defer mu.Unlock()
		return last[k]
	}
	waitFor(ctx, t, "the camera's report tells of its losses and echoes its sender report", func() bool {
		b := report(webrtc.RTPCodecTypeVideo)
		return b.LastSenderReport != 0 && b.TotalLost >= 5 && b.FractionLost > 0 && b.LastSequenceNumber > 100
	})
	waitFor(ctx, t, "the microphone is reported on", func() bool { return report(webrtc.RTPCodecTypeAudio).LastSequenceNumber != 0 })
	first := report(webrtc.RTPCodecTypeAudio).LastSequenceNumber
	waitFor(ctx, t, "the microphone's reports count its packets and echo its sender report", func() bool {
		b := report(webrtc.RTPCodecTypeAudio)
		return b.LastSequenceNumber >= first+40 && b.LastSenderReport != 0 // a second of them, and its sender report
	})
	if b := report(webrtc.RTPCodecTypeVideo); b.FractionLost > 64 || b.TotalLost*5 > b.LastSequenceNumber {
		t.Errorf("camera losing 1 packet in 10: fraction lost %d/256, %d lost of about %d", b.FractionLost, b.TotalLost, b.LastSequenceNumber)
	}
	if b := report(webrtc.RTPCodecTypeAudio); b.TotalLost != 0 || b.FractionLost != 0 || b.Jitter > 48000 {
		t.Errorf("a microphone that loses nothing: %d lost, fraction %d/256, jitter %d", b.TotalLost, b.FractionLost, b.Jitter)
	}
}

// TestReceiverReportCounts: the counts of RFC 3550 A.3 across a sequence
// number wrap, a lost packet, a late one and a duplicate.
func TestReceiverReportCounts(t *testing.T) {
	s := &rrStream{ssrc: 7, clockRate: 48000}
	now := time.Now()
	seqs := []uint16{65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 3, 4, 5}
	for i, q := range seqs {
		s.packet(q, uint32(i*960), now.Add(time.Duration(i)*20*time.Millisecond))
	}
	b, ok := s.report(now.Add(time.Second))
	if !ok || b.LastSequenceNumber != 1<<16+5 || b.TotalLost != 1 || b.FractionLost != 1<<8/12 {
		t.Fatalf("after 65530..5 without 2: %+v (sent %v)", b, ok)
	}
	if b.Jitter != 0 {
		t.Errorf("packets exactly on time: jitter %d", b.Jitter)
	}
	if _, ok := s.report(now.Add(2 * time.Second)); ok {
		t.Error("a report with nothing new since the last one")
	}
	s.packet(2, 0, now.Add(3*time.Second)) // late: it counts, the highest stays
	s.packet(5, 0, now.Add(3*time.Second)) // a duplicate
	b, _ = s.report(now.Add(4 * time.Second))
	if b.LastSequenceNumber != 1<<16+5 || b.TotalLost != 0xffffff || b.FractionLost != 0 {
		t.Errorf("after a late packet and a duplicate: %+v, want the same highest, -1 lost (a duplicate), no fraction", b)
	}
	s.senderReport(0x1122334455667788, now.Add(5*time.Second))
	b, _ = s.report(now.Add(5*time.Second + 500*time.Millisecond))
	if b.LastSenderReport != 0x33445566 || b.Delay != 32768 {
		t.Errorf("after a sender report half a second ago: LSR %#x, DLSR %d; want 0x33445566, 32768", b.LastSenderReport, b.Delay)
	}
}

// FuzzHasSenderReport: the header walk never reads past the packet, and
// finds a sender report wherever pion's own parser does.
func FuzzHasSenderReport(f *testing.F) {
	sr, _ := (&rtcp.SenderReport{SSRC: 1, NTPTime: 2}).Marshal()
	rr, _ := (&rtcp.ReceiverReport{SSRC: 1}).Marshal()
	f.Add(sr)
	f.Add(append(rr, sr...))
	f.Add([]byte{0x80, 200, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		got := hasSenderReport(b)
		pkts, err := rtcp.Unmarshal(b)
		if err != nil {
			return
		}
		for _, p := range pkts {
			if _, ok := p.(*rtcp.SenderReport); ok && !got {
				t.Fatalf("pion finds a sender report in %x, hasSenderReport does not", b)
			}
		}
	})
}
