package dialin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

const relaySecret = "relay-secret-0123456789"

// TestWebSocketRelay: two servers as two nodes. A browser's INVITE on
// node B for a room that lives on node A turns its websocket into a pipe
// to A: A challenges it and answers it, and the call is A's member, not
// B's. A room whose node cannot be reached gets 503 with a Warning and
// the websocket lives on. A relayed websocket with a wrong secret is 403,
// and B's shutdown ends its relays.
func TestWebSocketRelay(t *testing.T) {
	a := newWSHarnessWith(t, nil, func(s *dialin.Server) { s.SetRelay(dialin.Relay{Secret: relaySecret}) })
	b := newWSHarnessWith(t, nil, func(s *dialin.Server) {
		s.SetRelay(dialin.Relay{Secret: relaySecret, RouteWS: func(_ context.Context, number string) (string, error) {
			if number == "3500" {
				return a.url, nil
			}
			return "ws://127.0.0.1:1/", nil // a node that is gone
		}})
	})
	d := websocket.Dialer{Subprotocols: []string{"sip"}}
	if _, res, err := d.Dial(a.url, http.Header{"X-Confd-Relay": {"not-the-secret"}}); err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("a relay with a wrong secret: %v %v, want 403", res, err)
	}

	p := b.dial(t, nil)
	offer := webrtcOffer(t, false)
	p.send("INVITE", "sip:3600@confd", "", nil, offer)
	res := p.final()
	if w := res.GetHeader("Warning"); res.StatusCode != 503 || w == nil || !strings.Contains(w.Value(), "cannot be reached") {
		t.Fatalf("INVITE for a room on a node that is gone: %d %v, want 503 with a Warning", res.StatusCode, w)
	}
	p.send("ACK", "sip:3600@confd", "", nil, "")
	p.alive()

	uri := "sip:3500@confd"
	p.callID, p.tag = token(), token()
	p.send("INVITE", uri, "", nil, offer)
	if res = p.final(); res.StatusCode != 401 {
		t.Fatalf("relayed INVITE: %d, want 401", res.StatusCode)
	}
	p.send("ACK", uri, "", nil, "")
	p.send("INVITE", uri, "", []string{authorize(t, res, "INVITE", uri, "1000", "1234")}, offer)
	if res = p.final(); res.StatusCode != 200 {
		t.Fatalf("relayed INVITE with credentials: %d, want 200", res.StatusCode)
	}
	toTag, _ := res.To().Params.Get("tag")
	p.send("ACK", uri, toTag, nil, "")
	wsRow(t, a, "3500", func(r room.Row) bool { return r.Name == "Alice Web" })
	if n := b.srv.Calls(); n != 0 {
		t.Errorf("the relaying server has %d calls, want none", n)
	}
	if err := vertotest.WaitFor(doneIn(30*time.Second), func() bool { return a.srv.Calls() == 1 }); err != nil {
		t.Fatalf("the room's server has %d calls, want 1", a.srv.Calls())
	}
	p.alive() // OPTIONS answered by A through the pipe

	// B stops: its relay ends, and the client's websocket with it.
	b.close()
	deadline := time.After(30 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-p.in:
		case <-deadline:
			t.Fatal("the relayed websocket outlived the relaying server")
		}
	}
}
