package dialin_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

const relaySecret = "relay-secret-0123456789"

// TestWebSocketRelay: two servers as two nodes. A browser's INVITE on
// node B for a room that lives on node A turns its websocket into a pipe
// to A: A challenges it and answers it, and the call is A's member, not
// B's. A room whose node cannot be reached gets 503 with a Warning and
// the websocket lives on; one with a call on B stays there (403 for a
// room elsewhere). A relayed websocket with a wrong secret is 403,
// and B's shutdown ends its relays.
func TestWebSocketRelay(t *testing.T) {
	a := newWSHarnessWith(t, nil, func(s *dialin.Server) { s.SetRelay(dialin.Relay{Secret: relaySecret}) })
	var routed atomic.Int32
	b := newWSHarnessWith(t, nil, func(s *dialin.Server) {
		s.SetRelay(dialin.Relay{Secret: relaySecret, RouteWS: func(_ context.Context, number string) (string, error) {
			switch {
			case number == "3500":
				return a.url, nil
			case routed.Add(1) == 1:
				return "ws://127.0.0.1:1/", nil // 3600, first: on a node that is gone
			}
			return "", nil // 3600 then: here
		}})
	})
	d := websocket.Dialer{Subprotocols: []string{"sip"}}
	if _, res, err := d.Dial(a.url, http.Header{"X-Confd-Relay": {"not-the-secret"}}); err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("a relay with a wrong secret: %v %v, want 403", res, err)
	}

	p := b.dial(t, nil)
	offer := webrtcOffer(t, false)
	p.Send("INVITE", "sip:3600@confd", "", nil, offer)
	res := p.Final()
	if w := res.GetHeader("Warning"); res.StatusCode != 503 || w == nil || !strings.Contains(w.Value(), "cannot be reached") {
		t.Fatalf("INVITE for a room on a node that is gone: %d %v, want 503 with a Warning", res.StatusCode, w)
	}
	p.Send("ACK", "sip:3600@confd", "", nil, "")
	p.Alive()

	// A call here (3600, waiting for its PIN) keeps the websocket here: an
	// INVITE for a room elsewhere on it is refused.
	local := "sip:3600@confd"
	p.CallID, p.Tag = dialintest.Token(), dialintest.Token()
	p.Send("INVITE", local, "", nil, offer)
	res = p.Final()
	p.Send("ACK", local, "", nil, "")
	p.Send("INVITE", local, "", []string{dialintest.Authorize(t, res, "INVITE", local, "1000", "1234")}, offer)
	if res = p.Final(); res.StatusCode != 200 {
		t.Fatalf("INVITE for 3600 here: %d, want 200", res.StatusCode)
	}
	localTag, _ := res.To().Params.Get("tag")
	p.Send("ACK", local, localTag, nil, "")
	localCall, localFrom := p.CallID, p.Tag
	p.CallID, p.Tag = dialintest.Token(), dialintest.Token()
	p.Send("INVITE", "sip:3500@confd", "", nil, offer)
	if res = p.Final(); res.StatusCode != 403 || res.GetHeader("Warning") == nil {
		t.Fatalf("INVITE for a room elsewhere beside a call here: %d, want 403 with a Warning", res.StatusCode)
	}
	p.Send("ACK", "sip:3500@confd", "", nil, "")
	p.CallID, p.Tag = localCall, localFrom
	p.Send("BYE", local, localTag, nil, "")
	if res = p.Final(); res.StatusCode != 200 {
		t.Fatalf("BYE of the call here: %d", res.StatusCode)
	}
	if err := vertotest.WaitFor(doneIn(30*time.Second), func() bool { return b.srv.Calls() == 0 }); err != nil {
		t.Fatalf("%d calls here after the BYE", b.srv.Calls())
	}

	// The INVITE and an OPTIONS behind it in one write: what the server
	// read past the INVITE goes on through the relay as well.
	uri := "sip:3500@confd"
	p.CallID, p.Tag = dialintest.Token(), dialintest.Token()
	var both []byte
	for _, m := range []string{p.Message("INVITE", uri, uri, "", nil, "application/sdp", offer), p.Message("OPTIONS", "sip:confd", "sip:confd", "", nil, "", "")} {
		f, err := ws.CompileFrame(ws.MaskFrameInPlace(ws.NewTextFrame([]byte(m))))
		if err != nil {
			t.Fatal(err)
		}
		both = append(both, f...)
	}
	if _, err := p.Conn().NetConn().Write(both); err != nil {
		t.Fatal(err)
	}
	var challenge *sip.Response
	for range 2 {
		switch res := p.Final(); {
		case res.CSeq().MethodName == sip.INVITE && res.StatusCode == 401:
			challenge = res
		case res.CSeq().MethodName == sip.OPTIONS && res.StatusCode == 200:
		default:
			t.Fatalf("relayed INVITE and OPTIONS: %d for %s, want 401 and 200", res.StatusCode, res.CSeq().MethodName)
		}
	}
	if res = challenge; res == nil {
		t.Fatal("no challenge for the relayed INVITE")
	}
	p.Send("ACK", uri, "", nil, "")
	p.Send("INVITE", uri, "", []string{dialintest.Authorize(t, res, "INVITE", uri, "1000", "1234")}, offer)
	if res = p.Final(); res.StatusCode != 200 {
		t.Fatalf("relayed INVITE with credentials: %d, want 200", res.StatusCode)
	}
	toTag, _ := res.To().Params.Get("tag")
	p.Send("ACK", uri, toTag, nil, "")
	wsRow(t, a, "3500", func(r room.Row) bool { return r.Name == "Alice Web" })
	if n := b.srv.Calls(); n != 0 {
		t.Errorf("the relaying server has %d calls, want none", n)
	}
	if err := vertotest.WaitFor(doneIn(30*time.Second), func() bool { return a.srv.Calls() == 1 }); err != nil {
		t.Fatalf("the room's server has %d calls, want 1", a.srv.Calls())
	}
	p.Alive() // OPTIONS answered by A through the pipe

	// B stops: its relay ends, and the client's websocket with it.
	b.close()
	if !p.Closes(30 * time.Second) {
		t.Fatal("the relayed websocket outlived the relaying server")
	}
}
