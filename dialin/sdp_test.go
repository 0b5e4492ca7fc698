package dialin

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/confd/confd/mixer"
)

// A desk phone's offer: PCMU, PCMA, G.729, telephone-event, and a video
// line confd must reject in place.
const phoneOffer = "v=0\r\n" +
	"o=- 123 1 IN IP4 192.0.2.10\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.0.2.10\r\n" +
	"t=0 0\r\n" +
	"m=audio 40000 RTP/AVP 18 0 8 101\r\n" +
	"a=rtpmap:18 G729/8000\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-15\r\n" +
	"a=sendrecv\r\n" +
	"m=video 40002 RTP/AVP 96\r\n" +
	"a=rtpmap:96 H264/90000\r\n"

func TestParseSDP(t *testing.T) {
	a, err := parseSDP([]byte(phoneOffer))
	if err != nil {
		t.Fatal(err)
	}
	if a.addr != netip.MustParseAddr("192.0.2.10") || a.port != 40000 || a.dir != sendrecv || a.index != 0 {
		t.Fatalf("parsed %+v", a)
	}
	// PT 8 has no rtpmap: RFC 3551's static assignment names it.
	if f, ok := a.find("pcma", 8000); !ok || f.pt != 8 {
		t.Errorf("PCMA without rtpmap not recognised: %+v", a.formats)
	}
	if f, _ := a.find("telephone-event", 8000); f.fmtp != "0-15" {
		t.Errorf("telephone-event fmtp = %q", f.fmtp)
	}
}

func TestNegotiate(t *testing.T) {
	a, _ := parseSDP([]byte(phoneOffer))
	tests := []struct {
		name  string
		prefs []mixer.Codec
		want  mixer.Codec
		pt    uint8
	}{
		{"confd's preference wins", []mixer.Codec{mixer.CodecPCMA, mixer.CodecPCMU}, mixer.CodecPCMA, 8},
		{"default order", []mixer.Codec{mixer.CodecPCMU, mixer.CodecPCMA}, mixer.CodecPCMU, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := negotiate(a, tt.prefs)
			if err != nil || m.codec != tt.want || m.pt != tt.pt || m.dtmfPT != 101 {
				t.Fatalf("negotiate = %+v, %v", m, err)
			}
			if m.remote != netip.MustParseAddrPort("192.0.2.10:40000") {
				t.Errorf("remote = %v", m.remote)
			}
		})
	}
}

func TestNegotiateNoCommonCodec(t *testing.T) {
	a, _ := parseSDP([]byte(strings.Replace(phoneOffer, "18 0 8 101", "18 101", 1)))
	if _, err := negotiate(a, []mixer.Codec{mixer.CodecPCMU, mixer.CodecPCMA}); err != ErrNoCodec {
		t.Fatalf("err = %v, want ErrNoCodec", err)
	}
}

// TestAnswer: the answer keeps the offer's m-lines in order, rejects the
// video with port 0 (RFC 3264 §6), answers audio with one codec and
// telephone-event, and mirrors the direction.
func TestAnswer(t *testing.T) {
	a, _ := parseSDP([]byte(strings.Replace(phoneOffer, "a=sendrecv", "a=sendonly", 1)))
	m, _ := negotiate(a, []mixer.Codec{mixer.CodecPCMU})
	o := sdpOrigin{id: 7, addr: netip.MustParseAddrPort("198.51.100.1:20000")}
	ans := string(o.answer(a, m, m.dir.reverse()))
	for _, want := range []string{
		"c=IN IP4 198.51.100.1\r\n", "m=audio 20000 RTP/AVP 0 101\r\n", "a=rtpmap:0 PCMU/8000\r\n",
		"a=rtpmap:101 telephone-event/8000\r\n", "a=recvonly\r\n", "m=video 0 RTP/AVP 96\r\n", "a=ptime:20\r\n",
	} {
		if !strings.Contains(ans, want) {
			t.Errorf("answer lacks %q:\n%s", want, ans)
		}
	}
	if strings.Index(ans, "m=audio") > strings.Index(ans, "m=video") {
		t.Error("m-lines out of the offer's order")
	}
	back, err := parseSDP([]byte(ans))
	if err != nil || back.port != 20000 || back.dir != recvonly {
		t.Errorf("answer does not parse back: %+v, %v", back, err)
	}
	// A second description of the session has a higher version (RFC 3264 §8).
	if !strings.Contains(string(o.answer(a, m, sendrecv)), "o=confd 7 2 IN IP4") {
		t.Error("the o= version did not go up")
	}
}

func TestHeld(t *testing.T) {
	for _, tt := range []struct {
		sdp  string
		held bool
	}{
		{phoneOffer, false},
		{strings.Replace(phoneOffer, "a=sendrecv", "a=sendonly", 1), true},
		{strings.Replace(phoneOffer, "a=sendrecv", "a=inactive", 1), true},
		{strings.ReplaceAll(phoneOffer, "c=IN IP4 192.0.2.10", "c=IN IP4 0.0.0.0"), true}, // RFC 2543 hold
	} {
		a, err := parseSDP([]byte(tt.sdp))
		if err != nil || a.held() != tt.held {
			t.Errorf("held = %v (%v), want %v for\n%s", a.held(), err, tt.held, tt.sdp)
		}
	}
}

func TestParseSDPErrors(t *testing.T) {
	for name, sdp := range map[string]string{
		"no audio":      "v=0\r\nc=IN IP4 192.0.2.1\r\nm=video 1 RTP/AVP 96\r\n",
		"bad port":      "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio x RTP/AVP 0\r\n",
		"bad pt":        "v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 1 RTP/AVP 300\r\n",
		"bad address":   "v=0\r\nc=IN IP4 nowhere\r\nm=audio 1 RTP/AVP 0\r\n",
		"no connection": "v=0\r\nm=audio 1 RTP/AVP 0\r\n",
		"too large":     "v=0\r\n" + strings.Repeat("a=x\r\n", maxSDP),
	} {
		if _, err := parseSDP([]byte(sdp)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestOffer(t *testing.T) {
	o := sdpOrigin{id: 1, addr: netip.MustParseAddrPort("[2001:db8::1]:30000")}
	off := string(o.offer([]mixer.Codec{mixer.CodecPCMA, mixer.CodecPCMU}))
	if !strings.Contains(off, "m=audio 30000 RTP/AVP 8 0 101\r\n") || !strings.Contains(off, "c=IN IP6 2001:db8::1\r\n") {
		t.Errorf("offer:\n%s", off)
	}
}
