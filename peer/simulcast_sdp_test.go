package peer

import (
	"strings"
	"testing"
)

// TestReattachOfferSimulcastLines: the rids a client sent its camera with
// become the receive rids of the camera section of confd's next offer;
// the other sections, and offers for cameras without simulcast, stay as
// they were.
func TestReattachOfferSimulcastLines(t *testing.T) {
	answer := strings.Join([]string{
		"v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendrecv", "a=rtpmap:111 opus/48000/2",
		"m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:1", "a=sendrecv", "a=rtpmap:96 VP8/90000",
		"a=rid:lo send", "a=rid:mid send", "a=rid:hi send", "a=simulcast:send lo;mid;~hi",
		"",
	}, "\r\n")
	rids := sendRIDs(answer)
	if strings.Join(rids, " ") != "lo mid hi" {
		t.Fatalf("sendRIDs = %q, want lo mid hi", rids)
	}
	if got := sendRIDs(strings.ReplaceAll(answer, " send", " recv")); got != nil {
		t.Errorf("receive rids taken for send rids: %q", got)
	}

	offer := strings.Join([]string{
		"v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=rtpmap:111 opus/48000/2", "a=sendrecv",
		"m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:1", "a=rtpmap:96 VP8/90000", "a=sendrecv", "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host",
		"m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:2", "a=rtpmap:96 VP8/90000", "a=sendonly",
		"",
	}, "\r\n")
	got, err := withRecvSimulcast(offer, rids)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(offer, "a=mid:1\r\na=rtpmap:96 VP8/90000\r\n",
		"a=mid:1\r\na=rtpmap:96 VP8/90000\r\na=rid:lo recv\r\na=rid:mid recv\r\na=rid:hi recv\r\na=simulcast:recv lo;mid;hi\r\n", 1)
	if got != want {
		t.Errorf("offer with simulcast:\n%s\nwant:\n%s", got, want)
	}
	if got, err := withRecvSimulcast(offer, nil); err != nil || got != offer {
		t.Errorf("offer without simulcast changed (%v):\n%s", err, got)
	}
}
