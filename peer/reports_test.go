package peer

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestSubscriberGetsSenderReports: a client hearing the room is sent
// sender reports for the mix whose NTP time is the wall clock's, whose RTP
// time is the last packet's timestamp moved on by the time since it came,
// and whose count is what arrived.
func TestSubscriberGetsSenderReports(t *testing.T) {
	env := newEnv(t)
	ctx := testCtx(t)
	a, _ := env.join(t, "3500", "alice")
	b, _ := env.join(t, "3500", "bob")
	ca, cb := newClient(t, 440, 0), newClient(t, 660, 0)
	connect(ctx, t, a, ca, 0)
	connect(ctx, t, b, cb, 0)

	type seen struct {
		sr  rtcp.SenderReport
		at  time.Time
		mix received // what had arrived when it came
	}
	var mu sync.Mutex
	var reports []seen
	for _, r := range ca.pc.GetReceivers() {
		if r.Track() == nil || r.Track().Kind() != webrtc.RTPCodecTypeAudio {
			continue
		}
		ca.wg.Add(1)
		go func() {
			defer ca.wg.Done()
			for {
				pkts, _, err := r.ReadRTCP()
				if err != nil {
					return
				}
				at := time.Now()
				ca.mu.Lock()
				mix := ca.mix
				ca.mu.Unlock()
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						mu.Lock()
						reports = append(reports, seen{sr: *sr, at: at, mix: mix})
						mu.Unlock()
					}
				}
			}
		}()
	}
	var last seen
	waitFor(ctx, t, "a sender report on the mix, a second into it", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range reports {
			if s.mix.packets > 50 {
				last = s
				return true
			}
		}
		return false
	})
	if d := time.Duration(last.sr.NTPTime>>32-2208988800)*time.Second - time.Duration(last.at.Unix())*time.Second; d < -2*time.Second || d > 2*time.Second {
		t.Errorf("the report's NTP time is %v off the wall clock", d)
	}
	want := last.mix.lastTS + uint32(last.at.Sub(last.mix.lastAt)*48000/time.Second)
	if d := int32(last.sr.RTPTime - want); d < -24000 || d > 24000 { // half a second, on a loaded machine
		t.Errorf("RTP time %d, the last packet's moved on gives %d: %d samples apart", last.sr.RTPTime, want, d)
	}
	if n := int(last.sr.PacketCount); n < last.mix.packets-50 || n > last.mix.packets+50 {
		t.Errorf("the report counts %d packets sent, %d arrived", n, last.mix.packets)
	}
	if last.sr.OctetCount < last.sr.PacketCount {
		t.Errorf("%d packets of %d octets in all", last.sr.PacketCount, last.sr.OctetCount)
	}
}

// TestReportIsOneCompound: a PeerConnection that sends and receives says
// all it has to say in one compound packet, the sender report first
// (RFC 3550 §6.1); one with nothing new says nothing.
func TestReportIsOneCompound(t *testing.T) {
	var writes [][]rtcp.Packet
	w := interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, _ interceptor.Attributes) (int, error) {
		writes = append(writes, pkts)
		return 0, nil
	})
	c := &reportClock{subs: map[*reporter]struct{}{}}
	in, err := reports{c}.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	r := in.(*reporter)
	r.BindRTCPWriter(w)
	out := r.BindLocalStream(&interceptor.StreamInfo{SSRC: 1, ClockRate: 48000}, interceptor.RTPWriterFunc(func(*rtp.Header, []byte, interceptor.Attributes) (int, error) { return 0, nil }))
	inRead := r.BindRemoteStream(&interceptor.StreamInfo{SSRC: 2, ClockRate: 48000}, interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		h := rtp.Header{Version: 2, SequenceNumber: 7, Timestamp: 960, SSRC: 2}
		n, err := h.MarshalTo(b)
		return n, a, err
	}))
	if _, err := out.Write(&rtp.Header{SequenceNumber: 1, Timestamp: 960, SSRC: 1}, make([]byte, 40), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := inRead.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.subs[r]; !ok {
		t.Fatal("the bound reporter is not on the clock's round")
	}
	r.report(time.Now())
	if len(writes) != 1 || len(writes[0]) != 2 {
		t.Fatalf("writes %v, want one of a sender and a receiver report", writes)
	}
	if sr, ok := writes[0][0].(*rtcp.SenderReport); !ok || sr.SSRC != 1 || sr.PacketCount != 1 || sr.OctetCount != 40 {
		t.Errorf("first %+v, want the sender report on stream 1", writes[0][0])
	}
	if rr, ok := writes[0][1].(*rtcp.ReceiverReport); !ok || len(rr.Reports) != 1 || rr.Reports[0].SSRC != 2 || rr.Reports[0].LastSequenceNumber != 7 {
		t.Errorf("second %+v, want the reception report on stream 2", writes[0][1])
	}
	r.UnbindLocalStream(&interceptor.StreamInfo{SSRC: 1})
	r.report(time.Now())
	if len(writes) != 1 {
		t.Errorf("a report with nothing new: %v", writes[1:])
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.subs[r]; ok {
		t.Error("a closed reporter is still on the round")
	}
}

// TestSenderReportStream: the counts and the RTP time of a sender report
// (RFC 3550 §6.4.1), across a new frame, a late packet and a silence.
func TestSenderReportStream(t *testing.T) {
	s := &srStream{ssrc: 9, clockRate: 90000}
	t0 := time.Unix(1700000000, 0)
	if _, ok := s.report(t0); ok {
		t.Fatal("a report on a stream that never sent")
	}
	s.packet(100, 9000, 1000, t0)                          // frame 1
	s.packet(101, 9000, 500, t0.Add(5*time.Millisecond))   // frame 1, its second packet
	s.packet(102, 12000, 800, t0.Add(40*time.Millisecond)) // frame 2
	s.packet(99, 6000, 300, t0.Add(45*time.Millisecond))   // a late packet of an earlier frame
	sr, ok := s.report(t0.Add(140 * time.Millisecond))
	if !ok {
		t.Fatal("no report on a sending stream")
	}
	if sr.SSRC != 9 || sr.PacketCount != 4 || sr.OctetCount != 2600 {
		t.Errorf("counts: %+v", sr)
	}
	if want := uint32(12000 + 9000); sr.RTPTime != want { // frame 2, 100 ms on at 90 kHz
		t.Errorf("RTP time %d, want %d", sr.RTPTime, want)
	}
	if want := uint64(1700000000+2208988800)<<32 | uint64(140*time.Millisecond)<<32/uint64(time.Second); sr.NTPTime != want {
		t.Errorf("NTP time %x, want %x", sr.NTPTime, want)
	}
	if _, ok := s.report(t0.Add(45*time.Millisecond + senderSilence + time.Millisecond)); ok {
		t.Error("a sender report after two intervals of silence")
	}
}
