package dialin_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
)

// TestIntegrationManyVias: an INVITE that crossed nineteen proxies (twenty
// Via headers, its 200 well over 1300 bytes) over UDP gets its 200, and
// the call works: a phone in the room hears its tone. RFC 3261 §18.1.1's
// size limit is for requests; a response goes back the way it came.
func TestIntegrationManyVias(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx := timeout(t, 60*time.Second)
	listener := h.dial(ctx, dialintest.Options{Dest: "3500", Codecs: []string{"PCMU"}, From: "5550001111"})
	untilSilent(ctx, t, listener)

	peer := dialRaw(t, "udp", h.addr("udp"), netip.Addr{})
	rtp := listenRTP(t)
	invite := rawInvite(peer, rtp, "3500", "many-vias", 19)
	call := dialRawCall(ctx, t, peer, invite, rtp, "many-vias")
	if n := len(call.ok.GetHeaders("Via")); n != 20 {
		t.Errorf("the 200 carries %d Via headers, want the request's 20", n)
	}
	t.Logf("INVITE %d bytes, 200 %d bytes", len(invite), len(call.ok.String()))
	call.sendTone(440)
	untilHears(ctx, t, listener, 440)
	call.hangup()
	if !peer.until(ctx, func(got []rawResponse, _ bool) bool {
		return len(got) > 0 && got[len(got)-1].line == "SIP/2.0 200 OK" && strings.Contains(got[len(got)-1].text, "2 BYE")
	}) {
		t.Error("no 200 for the BYE")
	}
}
