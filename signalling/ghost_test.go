package signalling

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/signalling/vertotest"
)

// TestMalformedFramesLeaveNoGhost: a client with a live call sends
// thousands of mangled Verto requests (invites to the room and its screen
// share with real and broken offers, byes, attaches, modifies, infos, for
// its own callID and others), then its socket drops. Once the attach
// window has passed, nobody is left in the room and no call is left
// registered: every member had a call, and every call ended.
func TestMalformedFramesLeaveNoGhost(t *testing.T) {
	env := startServer(t, func(c *Config) { c.AttachWindow = 50 * time.Millisecond; c.MessageRate = 1e6; c.MessageBurst = 1e6 })
	ctx := testCtx(t, 120*time.Second)
	r := env.room3500(t)
	c := dialRaw(ctx, t, env.url, "sessid-ghost")
	c.login(ctx, userLogin, userPasswd)
	live := c.invite(ctx, "3500", 1)

	pc, err := vertotest.NewPeerConnection()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer := localSDP(ctx, t, pc, nil)

	// Drain what the server sends, so that the test client never stalls it.
	final := make(chan struct{})
	go func() {
		for {
			select {
			case f := <-c.frames:
				if string(f.ID) == "\"final\"" {
					close(final)
				}
			case <-c.done:
				return
			}
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	ids := []string{live.id, "ghost-1", "ghost-2", "ghost-3"}
	sdps := []string{offer, "v=0\r\n", "garbage", offer[:len(offer)/2]}
	dests := []string{"3500", "3500-screen", "9999", ""}
	methods := []string{"verto.invite", "verto.bye", "verto.attach", "verto.modify", "verto.info", "verto.answer", "verto.subscribe", "confd.pin", "confd.slotSize"}
	for i := range 3000 {
		dp := map[string]any{"callID": ids[rng.IntN(len(ids))], "destination_number": dests[rng.IntN(len(dests))], "screenShare": rng.IntN(3) == 0}
		params := map[string]any{"dialogParams": dp, "sdp": sdps[rng.IntN(len(sdps))], "sessid": c.sessid,
			"action": []string{"updateMedia", "hold", "toggleHold", "bogus"}[rng.IntN(4)], "dtmf": "*0", "eventChannel": "conference-liveArray.3500@" + testDomain}
		frame, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": i + 1000, "method": methods[rng.IntN(len(methods))], "params": params})
		switch rng.IntN(4) {
		case 0: // truncated
			frame = frame[:rng.IntN(len(frame))]
		case 1: // a byte flipped
			frame[rng.IntN(len(frame))] ^= byte(1 + rng.IntN(255))
		}
		c.write(1, frame)
	}
	c.writeText(`{"jsonrpc":"2.0","id":"final","method":"echo","params":{"x":1}}`)
	select {
	case <-final:
	case <-ctx.Done():
		t.Fatal("the session never answered the last frame")
	}
	env.srv.mu.Lock()
	t.Logf("after the frames: %d members, %d calls", len(r.Members()), len(env.srv.calls))
	env.srv.mu.Unlock()
	waitUntil(ctx, t, "members with calls only", func() bool {
		env.srv.mu.Lock()
		calls := len(env.srv.calls)
		env.srv.mu.Unlock()
		return len(r.Members()) <= calls
	})
	c.Close()
	waitUntil(ctx, t, "the room is empty and no call is left", func() bool {
		env.srv.mu.Lock()
		calls := len(env.srv.calls)
		env.srv.mu.Unlock()
		return len(r.Members()) == 0 && calls == 0
	})
}
