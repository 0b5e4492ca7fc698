package signalling

import (
	"testing"
	"time"

	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// TestDeadICEHangsUp: a member whose media path dies while its websocket
// stays open (its network drops every datagram both ways) is hung up
// once ICE fails, with verto.bye NORMAL_TEMPORARY_FAILURE, and leaves the
// room; the other member stays.
func TestDeadICEHangsUp(t *testing.T) {
	env := startServerMedia(t, []room.Config{{Number: "3500"}},
		peer.MediaConfig{LoopbackOnly: true, ICEDisconnected: time.Second, ICEFailed: 2 * time.Second, ICEKeepalive: 200 * time.Millisecond},
		func(c *Config) { c.AllowGuests = true })
	ctx := testCtx(t, 60*time.Second)
	r := env.room3500(t)
	link := vertotest.NewThrottle()
	c, call, err := vertotest.Join(ctx, env.url, "alice@"+testDomain, "pw",
		vertotest.CallOptions{Dest: "3500", Name: "alice", Slots: 1, Publish: true, SSRC: 1111, Throttle: link})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Cleanup(call.Close)
	bob := joinV(ctx, t, env, "bob@"+testDomain, "pw", "bob", 2222, 1)
	if err := bob.call.WaitSources(ctx, 1111); err != nil {
		t.Fatalf("bob never saw alice: %v", err)
	}

	link.Cut()
	bye, _ := waitRequest(ctx, t, c, "verto.bye")
	jsonEq(t, "bye", bye.Params, `{"callID":"`+call.ID+`","causeCode":41,"cause":"NORMAL_TEMPORARY_FAILURE"}`)
	waitUntil(ctx, t, "alice left the room", func() bool {
		ms := r.Members()
		return len(ms) == 1 && ms[0].Info.Name == "bob"
	})
	// The websocket is still up: the session answers.
	if _, err := c.Request(ctx, "echo", map[string]any{"ok": true}); err != nil {
		t.Errorf("alice's session after the hang-up: %v", err)
	}
}
