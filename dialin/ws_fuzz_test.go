package dialin

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzWebSocket: what confd parses of a browser's messages. The gate's
// judgement of a websocket message (inspectWS): nothing panics, what
// passes sipgo reads, a reply is a SIP/2.0 final response and never to
// an ACK or a response. And the SDP of a browser's offer
// (checkWebRTCOffer, offerHeld) and a REGISTER's lifetime
// (parseExpires) take anything without panicking.
func FuzzWebSocket(f *testing.F) {
	wireSeeds(f)
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 00\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:x\r\na=sendonly\r\n"))
	f.Add([]byte("3600"))
	local := netip.MustParseAddrPort("127.0.0.1:8443")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, refuse := range []*wireProblem{nil, rateProblem} {
			v := inspectWS(b, fuzzLimits, local, refuse)
			if v.pass != nil {
				if refuse != nil {
					t.Fatalf("a refused message passed")
				}
				if _, err := sip.ParseMessage(v.pass); err != nil {
					t.Fatalf("passed a message sipgo cannot read: %v", err)
				}
			}
			if v.reply != nil {
				if !bytes.HasPrefix(v.reply, []byte("SIP/2.0 ")) {
					t.Fatalf("reply %q is not a response", v.reply)
				}
				if bytes.HasPrefix(bytes.TrimLeft(b, "\r\n"), []byte("ACK ")) || bytes.HasPrefix(bytes.TrimLeft(b, "\r\n"), []byte("SIP/")) {
					t.Fatalf("answered an ACK or a response")
				}
			}
		}
		_ = checkWebRTCOffer(string(b))
		_ = offerHeld(string(b))
		if d, err := parseExpires(string(b)); err == nil && d < 0 {
			t.Fatalf("negative lifetime %v", d)
		}
	})
}
