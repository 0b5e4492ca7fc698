package dialin_test

import (
	"context"
	"testing"
	"time"

	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
)

// rowOf is the phone's row in the participant list.
func rowOf(r *room.Room, p *dialintest.Phone) (row room.Row, ok bool) {
	r.Snapshot(func(rows []room.Row) {
		for _, x := range rows {
			if x.Key == p.CallID() {
				row, ok = x, true
			}
		}
	})
	return row, ok
}

func waitRow(ctx context.Context, t *testing.T, what string, r *room.Room, p *dialintest.Phone, cond func(room.Row) bool) {
	t.Helper()
	waitFor(ctx, t, what, func() bool {
		row, ok := rowOf(r, p)
		return ok && cond(row)
	})
}

// press sends keys and waits until confd has acted on them, which the
// next condition shows.
func press(p *dialintest.Phone, keys string) { p.SendDigits(keys) }

// TestIntegrationKeypad: *6 toggles one's own mute, *1 the hand; *7 and
// *8 are for moderators only: a participant's *7 does nothing, a
// moderator's *8 mutes the others so that their *6 cannot unmute, and a
// moderator's *7 locks the room against new callers.
func TestIntegrationKeypad(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500", ModeratorPIN: "9999"}}, nil)
	ctx := timeout(t, 60*time.Second)
	r := h.room("3500")
	mod := h.dial(ctx, dialintest.Options{Dest: "3500", From: "5550000001"})
	press(mod, "9999#")
	memberOf(ctx, t, r, mod)
	p := h.dial(ctx, dialintest.Options{Dest: "3500", From: "5550000002"})
	press(p, "#") // the room has only a moderator PIN: '#' alone joins
	waitRow(ctx, t, "p in the room", r, p, func(x room.Row) bool { return x.Role == room.RoleParticipant })

	press(p, "*6")
	waitRow(ctx, t, "p muted", r, p, func(x room.Row) bool { return x.Muted && !x.ModMuted })
	press(p, "*6")
	waitRow(ctx, t, "p unmuted", r, p, func(x room.Row) bool { return !x.Muted })
	press(p, "*1")
	waitRow(ctx, t, "p's hand up", r, p, func(x room.Row) bool { return x.Hand })
	press(p, "*7*1") // not a moderator: no lock; then lower the hand
	waitRow(ctx, t, "p's hand down", r, p, func(x room.Row) bool { return !x.Hand })
	if r.Locked() {
		t.Fatal("a participant's *7 locked the room")
	}

	press(mod, "*8")
	waitRow(ctx, t, "p muted by the moderator", r, p, func(x room.Row) bool { return x.Muted && x.ModMuted })
	if row, _ := rowOf(r, mod); row.Muted {
		t.Error("*8 muted the moderator who pressed it")
	}
	press(p, "*6*1") // the moderator's mute holds; the hand shows *6 was handled
	waitRow(ctx, t, "p's hand up again", r, p, func(x room.Row) bool { return x.Hand })
	if row, _ := rowOf(r, p); !row.Muted {
		t.Error("*6 undid a moderator's mute")
	}

	press(mod, "*0*7")
	waitFor(ctx, t, "the room locked", r.Locked)
	late := h.dial(ctx, dialintest.Options{Dest: "3500", From: "5550000003"})
	press(late, "#")
	waitBye(ctx, t, late)
	if inRoom(r, late) {
		t.Error("a participant joined a locked room")
	}
}

// moderator is a stand-in room member with the moderator role, for
// sending room commands.
type moderator struct{}

func (moderator) Notify(room.Event) {}
func (moderator) Close(room.Reason) {}

// TestIntegrationMove: a moderator moves a phone to another room without
// a new call; it leaves the first room and is heard in the second.
func TestIntegrationMove(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}, {Number: "3600"}}, nil)
	ctx := timeout(t, 60*time.Second)
	from, to := h.room("3500"), h.room("3600")
	b := h.dial(ctx, dialintest.Options{Dest: "3600", ToneHz: 880})
	untilSilent(ctx, t, b)
	a := h.dial(ctx, dialintest.Options{Dest: "3500", ToneHz: 440})
	id := memberOf(ctx, t, from, a).ID
	boss, err := from.Join(moderator{}, room.JoinInfo{Name: "boss", Role: room.RoleModerator})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := from.Run(boss, room.Command{Name: "transfer", Target: id, Value: "3600"}); err != nil {
		t.Fatal(err)
	}
	memberOf(ctx, t, to, a)
	waitFor(ctx, t, "a to leave 3500", func() bool { return !inRoom(from, a) })
	untilHears(ctx, t, b, 440)
	untilHears(ctx, t, a, 880)
}
