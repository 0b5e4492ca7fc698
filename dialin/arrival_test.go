package dialin_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
)

// TestIntegrationArrivalAddress: confd listens on every address, as it does
// by default (":5060"), on a host that may have a LAN address besides
// loopback, with no sip.rtp_ip. Phones dial three loopback addresses: each
// gets an SDP answer and a Contact naming the address it dialled (a test
// phone sends nothing to any other), hears confd's RTP from it, and is
// heard in the room; no RTP is dropped. Over UDP the responses come from
// the address the request went to.
func TestIntegrationArrivalAddress(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) {
		c.UDP, c.TCP, c.RTPIP = "0.0.0.0:0", "0.0.0.0:0", netip.Addr{}
	})
	ctx := timeout(t, 60*time.Second)
	at := func(ip, transport string) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr(ip), h.addr(transport).Port())
	}
	dial := func(to netip.AddrPort, opts dialintest.Options) *dialintest.Phone {
		t.Helper()
		p, err := dialintest.Dial(ctx, to, opts)
		if err != nil {
			t.Fatalf("dial %s: %v", to, err)
		}
		t.Cleanup(p.Close)
		checkArrival(t, p, to.Addr())
		return p
	}

	listener := dial(at("127.0.0.1", "udp"), dialintest.Options{Dest: "3500", Codecs: []string{"PCMU"}, From: "5550001111"})
	untilSilent(ctx, t, listener)
	udp := dial(at("127.0.0.2", "udp"), dialintest.Options{Dest: "3500", ToneHz: 440, From: "5550002222"})
	untilHears(ctx, t, listener, 440)
	udp.Mute(true)
	tcp := dial(at("127.0.0.3", "tcp"), dialintest.Options{Dest: "3500", ToneHz: 880, From: "5550003333", Transport: "tcp"})
	untilHears(ctx, t, listener, 880)
	for _, p := range []*dialintest.Phone{udp, tcp} {
		waitFor(ctx, t, "confd's RTP", func() bool { return p.HeardFrom().IsValid() })
		if from, want := p.HeardFrom().Addr(), answerAddr(t, p.Answer()).Addr(); from != want {
			t.Errorf("confd's RTP comes from %s, its answer named %s", from, want)
		}
	}
	if bad := h.srv.Metrics().BadRTP; bad != 0 {
		t.Errorf("%d RTP packets dropped", bad)
	}

	peer := dialRaw(t, "udp", at("127.0.0.2", "udp"), netip.Addr{})
	peer.send(optionsTo(peer, "udp", "arrival-options"))
	if r, ok := peer.final(ctx); !ok || r.code != 200 || r.from != peer.server {
		t.Errorf("OPTIONS to %s: %q from %s", peer.server, r.line, r.from)
	}
}

// checkArrival: the phone's answer and the 200's Contact name the address
// it dialled.
func checkArrival(t *testing.T, p *dialintest.Phone, dialled netip.Addr) {
	t.Helper()
	if got := answerAddr(t, p.Answer()).Addr(); got != dialled {
		t.Errorf("dialled %s, the SDP answer names %s", dialled, got)
	}
	if ct := p.Contact(); !strings.Contains(ct, "@"+dialled.String()+":") {
		t.Errorf("dialled %s, the Contact is %s", dialled, ct)
	}
}
