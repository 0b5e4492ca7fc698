package vertotest

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// tccPacket is an RTP packet carrying transport-wide sequence number seq
// under extension ID id, as confd sends it (SRTP would encrypt only the
// payload).
func tccPacket(t *testing.T, ssrc uint32, id uint8, seq uint16, twoByte bool) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, SSRC: ssrc}, Payload: make([]byte, 100)}
	if twoByte {
		p.Header.ExtensionProfile = 0x1000
	}
	ext, err := (&rtp.TransportCCExtension{TransportSequence: seq}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Header.SetExtension(id, ext); err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// feedbackTally sums what TWCC feedback reported.
type feedbackTally struct {
	mu                    sync.Mutex
	feedbacks             int
	received, lost        int
	senderSSRC, mediaSSRC map[uint32]bool
}

func (f *feedbackTally) add(pkts []rtcp.Packet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.senderSSRC == nil {
		f.senderSSRC, f.mediaSSRC = map[uint32]bool{}, map[uint32]bool{}
	}
	for _, p := range pkts {
		cc, ok := p.(*rtcp.TransportLayerCC)
		if !ok {
			continue
		}
		f.feedbacks++
		f.received += len(cc.RecvDeltas)
		f.lost += int(cc.PacketStatusCount) - len(cc.RecvDeltas)
		f.senderSSRC[cc.SenderSSRC] = true
		f.mediaSSRC[cc.MediaSSRC] = true
	}
}

func (f *feedbackTally) counts() (received, lost int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.received, f.lost
}

// TestArrivalsRecordsOnlyRTPWithTheExtension: the socket's recorder takes
// RTP carrying the negotiated transport-cc extension (one-byte or
// two-byte headers), and leaves RTCP, STUN, DTLS and other extensions
// alone.
func TestArrivalsRecordsOnlyRTPWithTheExtension(t *testing.T) {
	a := newArrivals()
	now := time.Now()
	a.record(tccPacket(t, 1234, 5, 1, false), now) // before the ID is known
	if pkts := a.feedback(); len(pkts) != 0 {
		t.Fatalf("feedback before the extension was negotiated: %v", pkts)
	}
	a.learn(&interceptor.StreamInfo{RTPHeaderExtensions: []interceptor.RTPHeaderExtension{
		{URI: "urn:ietf:params:rtp-hdrext:sdes:mid", ID: 4},
		{URI: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", ID: 5},
	}})

	rr, err := (&rtcp.ReceiverReport{SSRC: 1234}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{
		rr,
		{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}, // STUN binding request
		{22, 0xfe, 0xfd, 0, 0},                           // DTLS handshake
		tccPacket(t, 1234, 4, 9, false),                  // another extension's ID
		{0x80, 96},                                       // truncated
	} {
		a.record(b, now)
	}
	if pkts := a.feedback(); len(pkts) != 0 {
		t.Fatalf("feedback for no RTP with the extension: %v", pkts)
	}

	// Sequence numbers 10 to 19 with 13 missing; 15 and 16 with a
	// two-byte header.
	for seq := uint16(10); seq < 20; seq++ {
		if seq != 13 {
			a.record(tccPacket(t, 1234, 5, seq, seq == 15 || seq == 16), now.Add(time.Duration(seq)*time.Millisecond))
		}
	}
	var f feedbackTally
	f.add(a.feedback())
	if received, lost := f.counts(); f.feedbacks != 1 || received != 9 || lost != 1 {
		t.Fatalf("%d feedbacks, %d received, %d lost; want 1, 9, 1", f.feedbacks, received, lost)
	}
	if f.mediaSSRC[0] || !f.mediaSSRC[1234] || f.senderSSRC[0] {
		t.Errorf("feedback SSRCs: sender %v, media %v", f.senderSSRC, f.mediaSSRC)
	}
	if pkts := a.feedback(); len(pkts) != 0 {
		t.Errorf("feedback repeated without new arrivals: %v", pkts)
	}
}

// sendingPeer is a pion peer that sends the client a video track with
// transport-wide sequence numbers, as confd does, and tallies the TWCC
// feedback it gets back.
type sendingPeer struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	seq   uint16
	fb    feedbackTally
}

func newSendingPeer(t *testing.T) *sendingPeer {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, reg); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "sender")
	if err != nil {
		t.Fatal(err)
	}
	return &sendingPeer{pc: pc, track: track}
}

// connect answers the client's offer for one receive-only video section
// with the track and waits until both ends are connected.
func (s *sendingPeer) connect(ctx context.Context, t *testing.T, client *webrtc.PeerConnection) {
	t.Helper()
	if _, err := client.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := client.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	offerSDP, err := gather(client, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP}); err != nil {
		t.Fatal(err)
	}
	sender, err := s.pc.AddTrack(s.track)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			s.fb.add(pkts)
		}
	}()
	answer, err := s.pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	answerSDP, err := gather(s.pc, answer)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answerSDP}); err != nil {
		t.Fatal(err)
	}
	err = WaitFor(ctx, func() bool {
		return s.pc.ConnectionState() == webrtc.PeerConnectionStateConnected &&
			client.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
	if err != nil {
		t.Fatalf("not connected: %v", err)
	}
}

// send writes n packets of 250 bytes, one every 4 ms (500 kbit/s).
func (s *sendingPeer) send(t *testing.T, n int) {
	t.Helper()
	tick := time.NewTicker(4 * time.Millisecond)
	defer tick.Stop()
	payload := make([]byte, 250)
	for range n {
		<-tick.C
		s.seq++
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: s.seq, Timestamp: uint32(s.seq) * 360}, Payload: payload}
		if err := s.track.WriteRTP(&p); err != nil {
			t.Fatal(err)
		}
	}
}

// stalledClient is a client PeerConnection whose track reader reads
// nothing until the test ends: the feedback can only come from its socket.
func stalledClient(t *testing.T, throttle *Throttle) *webrtc.PeerConnection {
	t.Helper()
	pc, err := newPeerConnection(throttle, nil)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	tracks := make(chan struct{}, 1)
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		select {
		case tracks <- struct{}{}:
		default:
		}
		<-release
		drain(track)
	})
	t.Cleanup(func() {
		close(release)
		_ = pc.Close()
	})
	return pc
}

// TestFeedbackReportsArrivalAtTheSocket: a throttled client that admits
// everything reports every packet received, none lost, though its track
// reader reads none of them: the recorder sees packets as they reach the
// socket, not as the application gets round to them.
func TestFeedbackReportsArrivalAtTheSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	throttle := NewThrottle()
	throttle.SetRate(1_000_000_000) // far above the 500 kbit/s sent
	client := stalledClient(t, throttle)
	s := newSendingPeer(t)
	s.connect(ctx, t, client)

	const n = 300
	s.send(t, n)
	err := WaitFor(ctx, func() bool {
		received, lost := s.fb.counts()
		return received >= n || lost > 0
	})
	received, lost := s.fb.counts()
	if err != nil || received != n || lost != 0 {
		t.Fatalf("feedback reports %d received, %d lost of %d sent (%v)", received, lost, n, err)
	}
	if d := throttle.Dropped(); d != 0 {
		t.Errorf("the throttle dropped %d packets", d)
	}
	s.fb.mu.Lock()
	defer s.fb.mu.Unlock()
	ssrc := uint32(s.pc.GetSenders()[0].GetParameters().Encodings[0].SSRC)
	if len(s.fb.mediaSSRC) != 1 || !s.fb.mediaSSRC[ssrc] {
		t.Errorf("feedback media SSRCs %v, want the track's %d", s.fb.mediaSSRC, ssrc)
	}
	if len(s.fb.senderSSRC) != 1 || s.fb.senderSSRC[0] {
		t.Errorf("feedback sender SSRCs %v, want one, not 0", s.fb.senderSSRC)
	}
	t.Logf("%d feedbacks for %d packets", s.fb.feedbacks, n)
}

// TestFeedbackReportsWhatTheThrottleDropped: what the throttle drops the
// feedback reports lost, and nothing else.
func TestFeedbackReportsWhatTheThrottleDropped(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	throttle := NewThrottle()
	client := stalledClient(t, throttle)
	s := newSendingPeer(t)
	s.connect(ctx, t, client)

	throttle.SetRate(200_000) // 500 kbit/s sent
	const n, after = 300, 10
	s.send(t, n)
	dropped := throttle.Dropped()
	// Packets admitted after the limit lifts bound the losses' report.
	throttle.SetRate(0)
	s.send(t, after)
	err := WaitFor(ctx, func() bool {
		received, lost := s.fb.counts()
		return received+lost >= n+after
	})
	received, lost := s.fb.counts()
	// dropped counts the sender's RTCP too.
	if err != nil || lost == 0 || lost > dropped || received+lost != n+after {
		t.Fatalf("feedback reports %d received, %d lost of %d sent, the throttle dropped %d (%v)", received, lost, n+after, dropped, err)
	}
	t.Logf("%d sent, %d dropped, feedback: %d received, %d lost", n+after, dropped, received, lost)
}

// TestArrivalsRecordAllocatesNothing: recording an arrival on the
// socket's read path reuses the arrivals' header (the recorder's own
// storage grows now and then, which averages out).
func TestArrivalsRecordAllocatesNothing(t *testing.T) {
	a := newArrivals()
	a.learn(&interceptor.StreamInfo{RTPHeaderExtensions: []interceptor.RTPHeaderExtension{
		{URI: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01", ID: 3},
	}})
	pkts := make([][]byte, 1000)
	for i := range pkts {
		pkts[i] = tccPacket(t, 1234, 3, uint16(i), false)
	}
	now, i := time.Now(), 0
	allocs := testing.AllocsPerRun(len(pkts)-1, func() {
		a.record(pkts[i], now.Add(time.Duration(i)*time.Millisecond))
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations a packet", allocs)
	}
}
