package whip

import (
	"errors"
	"strings"
	"testing"
)

const opusOffer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-ufrag:old\r\na=ice-pwd:oldpassword\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\na=mid:0\r\na=sendonly\r\na=rtpmap:111 opus/48000/2\r\na=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n"

// TestCheckOffer: a publisher's offer needs a section it sends Opus or
// VP8 on, a viewer's one it receives them on; garbage is malformed.
func TestCheckOffer(t *testing.T) {
	recv := strings.Replace(opusOffer, "a=sendonly", "a=recvonly", 1)
	pcmu := strings.Replace(opusOffer, "opus/48000/2", "PCMU/8000", 1)
	for _, tc := range []struct {
		name    string
		offer   string
		publish bool
		want    error
	}{
		{"publisher", opusOffer, true, nil},
		{"viewer", recv, false, nil},
		{"a viewer's offer to publish", recv, true, errNoMedia},
		{"a publisher's offer to watch", opusOffer, false, errNoMedia},
		{"no usable codec", pcmu, true, errNoMedia},
		{"garbage", "hello", true, errBadSDP},
		{"no sections", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", true, errBadSDP},
	} {
		if err := checkOffer(tc.offer, tc.publish); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestFragments: a fragment's credentials and candidates become an offer
// with the old path's candidates gone; an answer's become a fragment.
func TestFragments(t *testing.T) {
	f, err := parseFrag("a=ice-ufrag:new\r\na=ice-pwd:newpassword\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=candidate:2 1 udp 9 127.0.0.1 6000 typ host\r\na=end-of-candidates\r\n")
	if err != nil || f.ufrag != "new" || f.pwd != "newpassword" || len(f.candidates) != 1 || f.candidates[0].mid != "0" || !f.endOfCands {
		t.Fatalf("parsed %+v, %v", f, err)
	}
	offer, err := withCredentials(opusOffer, f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(offer, "a=ice-ufrag:new") || strings.Contains(offer, "old") ||
		!strings.Contains(offer, "6000 typ host") || strings.Contains(offer, "5000 typ host") {
		t.Errorf("restart offer:\n%s", offer)
	}
	frag, err := answerFrag(offer)
	if err != nil || !strings.Contains(frag, "a=ice-ufrag:new\r\na=ice-pwd:newpassword\r\n") || !strings.Contains(frag, "a=candidate:2 1 udp 9") {
		t.Errorf("answer fragment %q, %v", frag, err)
	}
	for _, bad := range []string{"a=ice-ufrag:only\r\n", "not sdp at all", strings.Repeat("a=x\r\n", maxFragLines+1)} {
		if _, err := parseFrag(bad); !errors.Is(err, errBadSDP) {
			t.Errorf("%.30q: %v, want malformed", bad, err)
		}
	}
}

// FuzzFrag: no fragment makes the parser or the restart offer panic.
func FuzzFrag(f *testing.F) {
	f.Add("a=ice-ufrag:u\r\na=ice-pwd:p\r\na=mid:0\r\na=candidate:1 1 udp 1 127.0.0.1 1 typ host\r\n")
	f.Add("a=end-of-candidates\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		frag, err := parseFrag(body)
		if err != nil {
			return
		}
		_, _ = withCredentials(opusOffer, frag)
		_ = checkOffer(body, true)
	})
}
