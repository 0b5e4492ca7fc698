package main

import (
	"context"
	"testing"
	"time"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// TestModeratorTransfersAMember: a moderator's transfer moves bob from 3500
// to 3600 on the same call: he leaves 3500's list, appears in 3600's, and
// his slot now shows carol, who is in 3600.
func TestModeratorTransfersAMember(t *testing.T) {
	a := startTestApp(t, func(c *Config) {
		c.Rooms = []RoomConfig{{Number: "3500"}, {Number: "3600"}}
		c.Users = []UserConfig{{Login: "1000", Password: "1234", Name: "Mod", Role: "moderator"}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	joinAs(ctx, t, a, "1000", "1234", "mod", 1111, 1)
	bob := join(ctx, t, a, "bob", 2222, 1)
	carol := joinRoom(ctx, t, a, "3600", "carol", 3333)

	r3500, _ := a.rooms.Lookup("3500")
	r3600, _ := a.rooms.Lookup("3600")
	var mod, target *room.Participant
	for _, m := range r3500.Members() {
		switch m.Info.Name {
		case "mod":
			mod = r3500.Participant(m.ID)
		case "bob":
			target = r3500.Participant(m.ID)
		}
	}
	if _, err := r3500.Run(mod, room.Command{Name: "transfer", Target: target.ID, Value: "3600"}); err != nil {
		t.Fatal(err)
	}
	if err := waitUntilMember(ctx, r3600, "bob"); err != nil {
		t.Fatal("bob never reached 3600")
	}
	for _, m := range r3500.Members() {
		if m.Info.Name == "bob" {
			t.Fatal("bob is still in 3500")
		}
	}
	waitSeen(ctx, t, bob, carol)
	if bob.call.GotBye() {
		t.Fatal("the transfer ended bob's call")
	}
}

// joinRoom is join into another room than 3500.
func joinRoom(ctx context.Context, t *testing.T, a *app, dest, name string, ssrc uint32) *member {
	t.Helper()
	c, call, err := vertotest.Join(ctx, a.vertoURL(), name, "guest", vertotest.CallOptions{Dest: dest, Name: name, Slots: 1, Publish: true, SSRC: ssrc})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { call.Close(); _ = c.Close() })
	return &member{name: name, ssrc: ssrc, client: c, call: call}
}

func waitUntilMember(ctx context.Context, r *room.Room, name string) error {
	return vertotest.WaitFor(ctx, func() bool {
		for _, m := range r.Members() {
			if m.Info.Name == name {
				return true
			}
		}
		return false
	})
}
