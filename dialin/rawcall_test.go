package dialin_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/confd/confd/mixer"
)

// rawCall is a call placed by hand over a rawPeer: the INVITE is written
// as text, so a test can give it what no well-behaved user agent sends
// (twenty Via headers), then ACKed, fed a tone as PCMU and hung up.
type rawCall struct {
	t      *testing.T
	peer   *rawPeer
	rtp    *net.UDPConn
	callID string
	ok     *sip.Response // confd's 200
	remote netip.AddrPort
	stop   chan struct{}
	wg     sync.WaitGroup
}

// rawInvite is an INVITE to dest from peer with extra Via headers below
// the peer's own (the proxies it crossed) and an offer of PCMU to rtp.
func rawInvite(peer *rawPeer, rtp *net.UDPConn, dest, callID string, vias int) []byte {
	local := peer.local()
	sdp := fmt.Sprintf("v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n", rtp.LocalAddr().(*net.UDPAddr).Port)
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE sip:%s@%s SIP/2.0\r\n", dest, peer.server)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;rport;branch=z9hG4bK-%s\r\n", local, callID)
	for i := range vias {
		fmt.Fprintf(&b, "Via: SIP/2.0/UDP proxy%d.example.com:5060;branch=z9hG4bK-hop%d-%s;received=192.0.2.%d\r\n", i, i, callID, i+1)
	}
	fmt.Fprintf(&b, "Max-Forwards: 50\r\nFrom: <sip:5550009999@127.0.0.1>;tag=raw-%s\r\nTo: <sip:%s@%s>\r\n", callID, dest, peer.server)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: 1 INVITE\r\nContact: <sip:raw@%s>\r\n", callID, local)
	fmt.Fprintf(&b, "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s", len(sdp), sdp)
	return []byte(b.String())
}

// dialRawCall sends the INVITE and waits for its 200; the test fails if
// another final response (or none) comes.
func dialRawCall(ctx context.Context, t *testing.T, peer *rawPeer, invite []byte, rtp *net.UDPConn, callID string) *rawCall {
	t.Helper()
	peer.send(invite)
	raw, ok := peer.final(ctx)
	if !ok || raw.code != 200 || raw.res == nil {
		t.Fatalf("INVITE (%d bytes): got %q, want 200", len(invite), raw.line)
	}
	res := raw.res
	c := &rawCall{t: t, peer: peer, rtp: rtp, callID: callID, ok: res, stop: make(chan struct{})}
	c.remote = answerAddr(t, string(res.Body()))
	c.send("ACK", 1)
	return c
}

// answerAddr is where confd's SDP says to send RTP; anything but loopback
// fails the test before a packet goes there.
func answerAddr(t *testing.T, sdp string) netip.AddrPort {
	t.Helper()
	var addr netip.Addr
	var port int
	for _, l := range strings.Split(sdp, "\r\n") {
		if f := strings.Fields(l); len(f) == 3 && (strings.HasPrefix(l, "c=IN IP4 ") || strings.HasPrefix(l, "c=IN IP6 ")) {
			addr, _ = netip.ParseAddr(f[2])
		}
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "m=audio" {
			port, _ = strconv.Atoi(f[1])
		}
	}
	if !addr.IsLoopback() || port == 0 {
		t.Fatalf("confd's answer does not name a loopback address and port:\n%s", sdp)
	}
	return netip.AddrPortFrom(addr, uint16(port))
}

// send writes an in-dialog request (ACK or BYE) to the 200's Contact.
func (c *rawCall) send(method string, cseq int) {
	to := c.ok.To().Value()
	target := c.peer.server.String()
	if ct := c.ok.Contact(); ct != nil {
		target = ct.Address.HostPort()
	}
	msg := fmt.Sprintf("%s sip:confd@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;rport;branch=z9hG4bK-%s-%d\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:5550009999@127.0.0.1>;tag=raw-%s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nContent-Length: 0\r\n\r\n",
		method, target, c.peer.local(), method, cseq, c.callID, to, c.callID, cseq, method)
	c.peer.send([]byte(msg))
}

// sendTone sends hz as PCMU every 20 ms, as a phone's audio clock would,
// until hangup.
func (c *rawCall) sendTone(hz float64) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		pcm := make([]int16, mixer.NarrowFrameSamples)
		pkt := make([]byte, 12+mixer.NarrowFrameSamples)
		pkt[0] = 0x80
		binary.BigEndian.PutUint32(pkt[8:], 0x5eed)
		var phase float64
		for seq := uint16(0); ; seq++ {
			for i := range pcm {
				pcm[i] = int16(0.25 * 32767 * math.Sin(phase))
				phase = math.Mod(phase+2*math.Pi*hz/mixer.NarrowRate, 2*math.Pi)
			}
			mixer.EncodeULaw(pkt[12:], pcm)
			binary.BigEndian.PutUint16(pkt[2:], seq)
			binary.BigEndian.PutUint32(pkt[4:], uint32(seq)*mixer.NarrowFrameSamples)
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
			_, _ = c.rtp.WriteToUDPAddrPort(pkt, c.remote)
		}
	}()
}

// hangup stops the tone and sends BYE.
func (c *rawCall) hangup() {
	close(c.stop)
	c.wg.Wait()
	c.send("BYE", 2)
}

func listenRTP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
