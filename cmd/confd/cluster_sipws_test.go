package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/confd/confd/cluster/clustertest"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/signalling/vertotest"
)

// TestClusterSIPWebSocket: a SIP-over-WebSocket client registers with a
// node that does not hold 3500 and calls it there. Its websocket is
// relayed to the room's node, which challenges the INVITE itself and
// answers with its own candidates: the caller is in 3500's participant
// list under its display name, it hears a Verto member of the room's node
// and is heard by it, the relaying node has no call, and its BYE ends the
// call on the room's node. A relayed websocket with a wrong secret is
// refused; with Redis gone, an INVITE for a room held elsewhere gets 503
// with a Warning and the websocket lives on.
func TestClusterSIPWebSocket(t *testing.T) {
	r := clustertest.StartRedis(t)
	n1, n2 := startClusterNode(t, r.Addr, "n1"), startClusterNode(t, r.Addr, "n2")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	if err := rdb.Set(ctx, "confd:room:3500", "n1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_ = rdb.Close()

	if _, res, err := (&websocket.Dialer{Subprotocols: []string{"sip"}}).DialContext(ctx, "ws://"+n1.addrs["http"].String()+"/",
		http.Header{"X-Confd-Relay": {"not-the-secret"}}); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("a relayed SIP websocket with a wrong secret: %v, want 403", err)
	}

	vc, member, err := vertotest.Join(ctx, n1.vertoURL(), "member", "guest", vertotest.CallOptions{Dest: "3500", Name: "member", ToneHz: 440})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { member.Close(); _ = vc.Close() })

	p := dialintest.DialWS(t, "ws://"+n2.addrs["http"].String()+"/", nil, 0)
	const aor = "sip:1000@confd"
	p.SendTo("REGISTER", "sip:confd", aor, []string{"Expires: 300"})
	res := p.Final()
	if res.StatusCode != 401 {
		t.Fatalf("REGISTER: %d, want 401", res.StatusCode)
	}
	p.SendTo("REGISTER", "sip:confd", aor, []string{"Expires: 300", dialintest.Authorize(t, res, "REGISTER", "sip:confd", "1000", "1234")})
	if res := p.Final(); res.StatusCode != 200 {
		t.Fatalf("REGISTER with credentials: %d, want 200", res.StatusCode)
	}

	call, offer, err := vertotest.Offered(vertotest.CallOptions{Name: "web", ToneHz: 660})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(call.Close)
	const uri = "sip:3500@confd"
	p.CallID, p.Tag = dialintest.Token(), dialintest.Token()
	p.Send("INVITE", uri, "", nil, offer)
	if res = p.Final(); res.StatusCode != 401 {
		t.Fatalf("INVITE through n2: %d, want the room's node's 401", res.StatusCode)
	}
	p.Send("ACK", uri, "", nil, "")
	p.Send("INVITE", uri, "", []string{dialintest.Authorize(t, res, "INVITE", uri, "1000", "1234")}, offer)
	if res = p.Final(); res.StatusCode != 200 {
		t.Fatalf("INVITE with credentials: %d %s, want 200", res.StatusCode, res.Reason)
	}
	toTag, _ := res.To().Params.Get("tag")
	p.Send("ACK", uri, toTag, nil, "")
	if err := call.Accept(string(res.Body())); err != nil {
		t.Fatal(err)
	}

	// The room's node has the caller under its display name, as the API
	// through the relaying node shows; the relaying node has no call.
	err = vertotest.WaitFor(ctx, func() bool {
		var detail struct {
			Members []struct {
				Name string `json:"name"`
			} `json:"members"`
		}
		if apiDo(t, n2, http.MethodGet, "/rooms/3500", &detail) != http.StatusOK {
			return false
		}
		for _, m := range detail.Members {
			if m.Name == "Alice Web" {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal("3500's participant list never showed Alice Web")
	}
	if n := n2.sip.Calls(); n != 0 {
		t.Errorf("the relaying node has %d calls, want none", n)
	}
	listen(ctx, t, member, call)
	hears(t, "the Verto member", member, 660, true)
	hears(t, "the SIP websocket caller", call, 440, true)

	p.Send("BYE", uri, toTag, nil, "")
	if res := p.Final(); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
	room, _ := n1.rooms.Lookup("3500")
	if err := vertotest.WaitFor(ctx, func() bool { return len(room.Members()) == 1 }); err != nil {
		t.Fatalf("3500 has %d members after the BYE, want the Verto member alone", len(room.Members()))
	}

	// Redis goes: an INVITE through n2 for a room it does not hold is
	// refused with the cause, and its websocket lives on.
	r.Stop()
	q := dialintest.DialWS(t, "ws://"+n2.addrs["http"].String()+"/", nil, 0)
	const other = "sip:3600@confd"
	q.Send("INVITE", other, "", nil, offer)
	res = q.Final()
	if w := res.GetHeader("Warning"); res.StatusCode != 503 || w == nil || !strings.Contains(w.Value(), "unavailable") {
		t.Fatalf("INVITE without Redis: %d %v, want 503 with a Warning naming the registry", res.StatusCode, w)
	}
	q.Send("ACK", other, "", nil, "")
	q.Send("OPTIONS", "sip:confd", "", nil, "")
	if res := q.Final(); res.StatusCode != 200 {
		t.Fatalf("OPTIONS after the refusal: %d, want 200 (the websocket alive)", res.StatusCode)
	}
}

// TestClusterJsSIP: JsSIP in Chromium registers with a node that does not
// hold 3500 and calls it: it answers the room's node's challenge through
// the relay, hears a Verto member of the room's node and is heard, and
// its hang-up ends the call there.
func TestClusterJsSIP(t *testing.T) {
	dir, chromium := browserHarness(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jssip")); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("testdata/browser/node_modules/jssip is missing: `make deps` installs it")
		}
		t.Skip("jssip is missing: run `make deps`")
	}
	r := clustertest.StartRedis(t)
	anyOrigin := func(c *Config) { c.Verto.AllowedOrigins = []string{"*"} } // the harness page has its own port
	n1, n2 := startClusterNode(t, r.Addr, "n1", anyOrigin), startClusterNode(t, r.Addr, "n2", anyOrigin)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	if err := rdb.Set(ctx, "confd:room:3500", "n1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_ = rdb.Close()
	ivf := filepath.Join("..", "..", "testdata", "media", "testsrc-320x180-15fps.ivf") // a camera the browser decodes
	vc, member, err := vertotest.Join(ctx, n1.vertoURL(), "member", "guest",
		vertotest.CallOptions{Dest: "3500", Name: "member", Slots: 1, Publish: true, IVF: ivf, ToneHz: 440})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { member.Close(); _ = vc.Close() })

	h := startJsSIP(ctx, t, dir, chromium, "--ws", "ws://"+n2.addrs["http"].String(), "--uri", "sip:1000@confd", "--password", "1234",
		"--name", "JsSIP Tester", "--dest", "sip:3500@confd", "--tone-hz", "660")
	if ev := h.await(ctx, "registered"); ev.Status != 200 {
		t.Fatalf("REGISTER answered %d, want 200", ev.Status)
	}
	h.send("call")
	h.await(ctx, "confirmed")
	media := h.await(ctx, "media")
	if media.VideoWidth == 0 || !media.Advanced {
		t.Errorf("remote video %d wide, time advancing %v: want the room's node's video playing", media.VideoWidth, media.Advanced)
	}
	judgeTone(t, "the JsSIP user", 440, vertotest.ToneLevelBlocks(media.Heard.samples(), 440), true)
	room, _ := n1.rooms.Lookup("3500")
	if err := vertotest.WaitFor(ctx, func() bool { return len(room.Members()) == 2 }); err != nil {
		t.Fatal("the JsSIP call never joined 3500 on its node")
	}
	if n := n2.sip.Calls(); n != 0 {
		t.Errorf("the relaying node has %d calls, want none", n)
	}
	listen(ctx, t, member)
	hears(t, "the Verto member", member, 660, true)
	h.send("hangup")
	if ev := h.await(ctx, "ended"); ev.Originator != "local" {
		t.Errorf("ended by %q, want local", ev.Originator)
	}
	if err := vertotest.WaitFor(ctx, func() bool { return len(room.Members()) == 1 }); err != nil {
		t.Fatal("the JsSIP member stayed in 3500 after its BYE")
	}
}
