package main

import (
	"context"
	"testing"
	"time"

	"github.com/confd/confd/signalling/vertotest"
)

// TestScreenShareTakesTheFirstSlot: a member's second call to
// 3500-screen (video only, send-only) becomes the presentation: its video
// fills slot 0 of every other member; hanging it up gives slot 0 back to
// the floor.
func TestScreenShareTakesTheFirstSlot(t *testing.T) {
	a := startTestApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := join(ctx, t, a, "alice", 1111, 2)
	bob := join(ctx, t, a, "bob", 2222, 2)
	waitSeen(ctx, t, alice, bob)
	waitSeen(ctx, t, bob, alice)

	screen, err := alice.client.Invite(ctx, vertotest.CallOptions{Dest: "3500-screen", Name: "alice (screen)", Publish: true, ScreenShare: true, SSRC: 9999})
	if err != nil {
		t.Fatal(err)
	}
	defer screen.Close()
	slot0 := func(m *member) *vertotest.Stream { return m.call.Stream(m.call.Slots().Slots[0].MID) }
	if err := vertotest.WaitFor(ctx, func() bool { s := slot0(bob); return s != nil && s.CurrentSource() == 9999 }); err != nil {
		t.Fatalf("bob's slot 0 never showed the screen share; sources %v", slot0(bob).Sources())
	}
	if err := vertotest.WaitFor(ctx, func() bool { s := slot0(alice); return s != nil && s.CurrentSource() == 9999 }); err != nil {
		t.Fatalf("alice's slot 0 never showed her own screen share; sources %v", slot0(alice).Sources())
	}
	if err := screen.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := vertotest.WaitFor(ctx, func() bool { return slot0(bob).CurrentSource() == alice.ssrc }); err != nil {
		t.Fatalf("bob's slot 0 did not return to alice after the share; sources %v", slot0(bob).Sources())
	}
	checkStreams(t, bob)
}
