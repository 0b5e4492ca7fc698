package dialin

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/confd/confd/mixer"
	"github.com/confd/confd/rtpparse"
)

// udp binds a loopback socket.
func udp(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort {
	return netip.MustParseAddrPort(c.LocalAddr().String())
}

// testPort is a media port on loopback whose peer's SDP names sdpPeer.
func testPort(t *testing.T, sdpPeer netip.AddrPort, digits chan<- byte) *mediaPort {
	t.Helper()
	rtp, rtcpC := udp(t), udp(t)
	p := newMediaPort(rtp, rtcpC, addrOf(rtp), func(d byte) { digits <- d })
	p.setMedia(media{codec: mixer.CodecPCMU, pt: 0, dtmfPT: 101, remote: sdpPeer, dir: sendrecv}, netip.MustParseAddr("127.0.0.1"))
	return p
}

func rtpPacket(pt uint8, seq uint16, ts uint32, payload []byte) []byte {
	b := make([]byte, 12+len(payload))
	putRTP(b, &rtpHeader{pt: pt, seq: seq, ts: ts, ssrc: 7})
	copy(b[12:], payload)
	return b
}

// readFrom reads one packet from c within a second.
func readFrom(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("nothing arrived: %v", err)
	}
	return buf[:n]
}

// TestSymmetricRTP: confd sends to the SDP address until the peer's RTP
// arrives, then to where it really comes from (a NAT's mapping); another
// source cannot take the stream over while the latched one is active, and
// a source that is neither the SDP nor the signalling address never can.
func TestSymmetricRTP(t *testing.T) {
	sdpPeer, natPeer := udp(t), udp(t)
	digits := make(chan byte, 4)
	p := testPort(t, addrOf(sdpPeer), digits)
	var h rtp.Header
	var d rtpparse.DTMF
	frame := make([]byte, 160)

	_ = p.WriteFrame(frame)
	readFrom(t, sdpPeer)

	p.handleRTP(rtpPacket(0, 1, 160, frame), addrOf(natPeer), &h, &d)
	_ = p.WriteFrame(frame)
	if got := readFrom(t, natPeer); len(got) != 12+160 || got[1]&0x7f != 0 {
		t.Fatalf("sent %x", got[:12])
	}

	p.handleRTP(rtpPacket(0, 2, 320, frame), addrOf(sdpPeer), &h, &d) // still active: no takeover
	p.handleRTP(rtpPacket(0, 3, 480, frame), netip.MustParseAddrPort("192.0.2.66:4000"), &h, &d)
	if p.bad.Load() != 2 {
		t.Errorf("dropped %d packets, want 2", p.bad.Load())
	}
	_ = p.WriteFrame(frame)
	readFrom(t, natPeer)
}

// TestMalformedRTPDropped: what RFC 3550 §5.1 forbids, and a packet with
// nothing to play, is dropped and counted before the latch sees it; a
// packet with CSRCs, an extension and padding plays.
func TestMalformedRTPDropped(t *testing.T) {
	peer := udp(t)
	digits := make(chan byte, 4)
	p := testPort(t, addrOf(peer), digits)
	var h rtp.Header
	var d rtpparse.DTMF
	src := addrOf(peer)
	good := rtpPacket(101, 1, 160, []byte{5, 0x0a, 0, 160})
	for name, b := range map[string][]byte{
		"short":         good[:11],
		"version 1":     append([]byte{0x40}, good[1:]...),
		"no payload":    good[:12],
		"padding only":  {0xa0, 101, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 4},
		"cut extension": {0x90, 101, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7, 0xbe},
		"csrc past end": {0x8f, 101, 0, 4, 0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3, 4},
	} {
		before := p.bad.Load()
		p.handleRTP(b, src, &h, &d)
		if p.bad.Load() != before+1 {
			t.Errorf("%s: not counted as dropped", name)
		}
	}
	if len(digits) != 0 {
		t.Fatal("a malformed packet gave a digit")
	}
	// CSRC, a one-byte-header extension, the event, 3 octets of padding.
	ext := []byte{0xb1, 101, 0, 9, 0, 0, 1, 0xe0, 0, 0, 0, 7, 0xc0, 0xc0, 0xc0, 0xc0, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, 7, 0x0a, 0, 160, 0, 0, 3}
	p.handleRTP(ext, src, &h, &d)
	select {
	case got := <-digits:
		if got != '7' {
			t.Errorf("digit %c, want 7", got)
		}
	default:
		t.Errorf("the packet with CSRC, extension and padding was dropped (%d dropped)", p.bad.Load())
	}
}

// TestPayloadTypeDemux: telephone-event goes to the digit callback, the
// codec to the mixer input, anything else nowhere.
func TestPayloadTypeDemux(t *testing.T) {
	peer := udp(t)
	digits := make(chan byte, 4)
	p := testPort(t, addrOf(peer), digits)
	var h rtp.Header
	var d rtpparse.DTMF
	src := addrOf(peer)
	p.handleRTP(rtpPacket(0, 1, 160, make([]byte, 160)), src, &h, &d)
	p.handleRTP(rtpPacket(13, 2, 320, []byte{0x40}), src, &h, &d) // comfort noise
	p.handleRTP(rtpPacket(101, 3, 480, []byte{9, 0x8a, 0, 160}), src, &h, &d)
	select {
	case got := <-digits:
		if got != '9' {
			t.Errorf("digit %c, want 9", got)
		}
	default:
		t.Fatal("no digit")
	}
	if len(digits) != 0 {
		t.Error("audio taken for a digit")
	}
}

// TestPromptReplacesMix: while a prompt plays the phone hears it instead
// of the mix, then the mix again; done runs after the last frame.
func TestPromptReplacesMix(t *testing.T) {
	peer := udp(t)
	p := testPort(t, addrOf(peer), make(chan byte, 1))
	prompt := make([]byte, 200) // a frame and a bit
	for i := range prompt {
		prompt[i] = 0x11
	}
	done := make(chan struct{})
	p.play(prompt, func() { close(done) })
	mix := make([]byte, 160)
	for i := range mix {
		mix[i] = 0x22
	}
	for _, want := range []byte{0x11, 0x11, 0x22} {
		_ = p.WriteFrame(mix)
		if got := readFrom(t, peer); got[12] != want {
			t.Fatalf("payload %#x, want %#x", got[12], want)
		}
	}
	select {
	case <-done:
	default:
		t.Error("done did not run")
	}
}

// TestRTPPathAllocatesNothing: receiving a packet into the mixer input and
// sending the mixer's frame allocate nothing (checked after warm-up).
func TestRTPPathAllocatesNothing(t *testing.T) {
	peer := udp(t)
	p := testPort(t, addrOf(peer), make(chan byte, 1))
	m := mixer.New(mixer.Config{})
	in, err := m.Add(1, mixer.MemberOptions{In: mixer.CodecPCMU, HasInput: true})
	if err != nil {
		t.Fatal(err)
	}
	p.in.Store(in)
	var h rtp.Header
	var d rtpparse.DTMF
	pkt := rtpPacket(0, 0, 0, make([]byte, 160))
	frame := make([]byte, 160)
	src := addrOf(peer)
	seq := uint16(0)
	step := func() {
		seq++
		putRTP(pkt, &rtpHeader{pt: 0, seq: seq, ts: uint32(seq) * 160, ssrc: 7})
		p.handleRTP(pkt, src, &h, &d)
		_ = p.WriteFrame(frame)
	}
	for range 100 {
		step()
	}
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per packet, want 0", n)
	}
}

// TestReport: confd's RTCP is a compound SR + SDES once it has sent, with
// a report block on the peer's stream (RFC 3550 §6.4).
func TestReport(t *testing.T) {
	peer := udp(t)
	p := testPort(t, addrOf(peer), make(chan byte, 1))
	var h rtp.Header
	var d rtpparse.DTMF
	for i := range 10 {
		if i != 4 { // one lost
			p.handleRTP(rtpPacket(0, uint16(100+i), uint32(i*160), make([]byte, 160)), addrOf(peer), &h, &d)
		}
		_ = p.WriteFrame(make([]byte, 160))
	}
	b, dst := p.report("confd")
	if dst.Port() != addrOf(peer).Port()+1 {
		t.Errorf("RTCP to %v", dst)
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil || len(pkts) != 2 {
		t.Fatalf("%v %v", pkts, err)
	}
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok || sr.PacketCount != 10 || len(sr.Reports) != 1 {
		t.Fatalf("first packet %+v", pkts[0])
	}
	if r := sr.Reports[0]; r.SSRC != 7 || r.TotalLost != 1 || r.LastSequenceNumber != 109 {
		t.Errorf("report block %+v", r)
	}
}
