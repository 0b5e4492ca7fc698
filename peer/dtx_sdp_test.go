package peer

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// opusFmtp is the format line of the Opus payload type in desc's audio
// section, "" when it has none.
func opusFmtp(t *testing.T, desc string) string {
	t.Helper()
	var d sdp.SessionDescription
	if err := d.UnmarshalString(desc); err != nil {
		t.Fatalf("the description does not parse: %v\n%s", err, desc)
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		pt := ""
		for _, a := range m.Attributes {
			if a.Key == "rtpmap" && strings.Contains(strings.ToLower(a.Value), " opus/") {
				pt, _, _ = strings.Cut(a.Value, " ")
			}
		}
		for _, a := range m.Attributes {
			if a.Key == "fmtp" && strings.HasPrefix(a.Value, pt+" ") {
				return a.Value
			}
		}
	}
	return ""
}

func TestWithDTX(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	cases := map[string]struct{ in, want string }{
		"beside the client's parameters": {
			"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n",
			"111 minptime=10;useinbandfec=1;usedtx=1",
		},
		"over a refusal": {
			"m=audio 9 UDP/TLS/RTP/SAVPF 109\r\na=fmtp:109 usedtx=0;stereo=1\r\na=rtpmap:109 OPUS/48000/2\r\n",
			"109 usedtx=1;stereo=1",
		},
		"where there was no format line": {
			"m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\n",
			"111 usedtx=1",
		},
	}
	for name, c := range cases {
		out := withDTX(head + c.in)
		if got := opusFmtp(t, out); got != c.want {
			t.Errorf("%s: Opus format line %q, want %q\n%s", name, got, c.want, out)
		}
		if again := withDTX(out); again != out {
			t.Errorf("%s: a second pass changed it:\n%s", name, again)
		}
	}
	// Other codecs and sections are left as they were.
	video := head + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\na=fmtp:96 max-fr=30\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n"
	if out := withDTX(video); out != video {
		t.Errorf("a description without Opus changed:\n%s", out)
	}
}

// TestAnswerAsksForDTX: the answer a client gets asks it for Opus DTX.
func TestAnswerAsksForDTX(t *testing.T) {
	env := newEnv(t)
	ctx := testCtx(t)
	p, _ := env.join(t, "3500", "alice")
	c := newClient(t, 440, 0)
	answer, err := p.Answer(ctx, c.offer(ctx, 1))
	if err != nil {
		t.Fatal(err)
	}
	if got := opusFmtp(t, answer); !strings.Contains(got, "usedtx=1") {
		t.Fatalf("the answer's Opus format line is %q", got)
	}
	c.accept(answer)
}
