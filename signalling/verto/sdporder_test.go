package verto

import (
	"strings"
	"testing"
)

func sdpOf(sections ...string) string {
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n")
	for i, s := range sections {
		b.WriteString("m=" + s + " 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:" + string(rune('0'+i)) + "\r\na=msid:confd " + s + "\r\n")
	}
	return b.String()
}

// TestAudioFirst: an answer to a video-first offer lists audio first, as
// FreeSWITCH's do, with every section's lines unchanged; other answers
// stay as they are.
func TestAudioFirst(t *testing.T) {
	for _, tc := range []struct {
		name          string
		offer, answer string
		want          string
	}{
		{"video first", sdpOf("video", "audio"), sdpOf("video", "audio"), ""},
		{"audio first", sdpOf("audio", "video"), sdpOf("audio", "video"), sdpOf("audio", "video")},
		{"no audio", sdpOf("video", "video"), sdpOf("video", "video"), sdpOf("video", "video")},
		{"no video", sdpOf("audio"), sdpOf("audio"), sdpOf("audio")},
		{"not sdp", "", "garbage", "garbage"},
	} {
		got := AudioFirst(tc.offer, tc.answer)
		if tc.want == "" {
			head, sections := splitSections(tc.answer)
			tc.want = head + sections[1] + sections[0]
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
	// Several videos around the audio: the audio moves to the front, the
	// videos keep their order.
	got := AudioFirst(sdpOf("video", "audio", "video"), "h\r\nm=video 1\r\nm=audio 2\r\nm=video 3\r\n")
	if want := "h\r\nm=audio 2\r\nm=video 1\r\nm=video 3\r\n"; got != want {
		t.Errorf("three sections: got %q, want %q", got, want)
	}
}
