package signalling

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// allCommands is every conf-control command confd knows.
var allCommands = []string{"kick", "mute", "unmute", "tmute", "deaf", "undeaf", "vmute", "unvmute", "tvmute",
	"volume_in", "volume_out", "vid-floor", "vid-banner", "vid-res-id", "transfer", "lock", "unlock", "muteall", "lowerhands"}

// TestParticipantModCommandsRefused: a participant who knows the moderator
// channel cannot subscribe to it, and every command it broadcasts there is
// refused; nothing changes in the room.
func TestParticipantModCommandsRefused(t *testing.T) {
	env, ctx, _, user := moderatorAndUser(t)
	r := env.room3500(t)
	before := fmt.Sprint(r.Members())
	modChan := "conference-mod.3500@" + testDomain
	e := user.failure(ctx, "verto.subscribe", map[string]any{"eventChannel": modChan})
	if !strings.Contains(string(e), "unauthorizedChannels") {
		t.Fatalf("a participant subscribed to the moderator channel: %s", e)
	}
	for _, cmd := range allCommands {
		res := user.result(ctx, "verto.broadcast", map[string]any{"eventChannel": modChan,
			"data": map[string]any{"application": "conf-control", "command": cmd, "id": 1, "value": "4000"}})
		if !strings.Contains(string(res), "Permission Denied.") {
			t.Errorf("%s from a participant: %s", cmd, res)
		}
	}
	if after := fmt.Sprint(r.Members()); after != before || r.Locked() {
		t.Fatalf("the room changed: %s -> %s", before, after)
	}
}

// TestModeratorMutesOverVerto: the moderator's mute reaches the room, the
// response goes to the moderator channel, the participant's row shows it,
// and a chat message reaches both members, the sender included.
func TestModeratorMutesOverVerto(t *testing.T) {
	env, ctx, mod, user := moderatorAndUser(t)
	at := "3500@" + testDomain
	mod.result(ctx, "verto.subscribe", map[string]any{"eventChannel": []string{"conference-mod." + at, "conference-liveArray." + at, "conference-chat." + at}})
	user.result(ctx, "verto.subscribe", map[string]any{"eventChannel": []string{"conference-chat." + at}})

	var userID int
	for _, m := range env.room3500(t).Members() {
		if m.Info.Role.String() == "participant" {
			userID = m.ID
		}
	}
	mod.result(ctx, "verto.broadcast", map[string]any{"eventChannel": "conference-mod." + at,
		"data": map[string]any{"application": "conf-control", "command": "mute", "id": fmt.Sprint(userID), "value": nil}})
	resp := mod.expect(ctx, "mod response", func(f *rpc) bool { return strings.Contains(string(f.Params), `"action":"response"`) })
	if want := fmt.Sprintf(`"response":"+OK mute %d\n"`, userID); !strings.Contains(string(resp.Params), strings.ReplaceAll(want, "\n", `\n`)) {
		t.Fatalf("mod response %s", resp.Params)
	}
	row := mod.expect(ctx, "modify row", func(f *rpc) bool {
		return strings.Contains(string(f.Params), `"action":"modify"`) && strings.Contains(string(f.Params), `\"muted\":true`)
	})
	var ev struct {
		Data struct {
			Data []any `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(row.Params, &ev); err != nil || len(ev.Data.Data) != 7 || ev.Data.Data[0] != fmt.Sprintf("%04d", userID) {
		t.Fatalf("modify row %s", row.Params)
	}

	user.result(ctx, "verto.broadcast", map[string]any{"eventChannel": "conference-chat." + at,
		"data": map[string]any{"action": "send", "message": "hello all", "type": "message"}})
	for _, c := range []*wsClient{mod, user} {
		msg := c.expect(ctx, "chat", func(f *rpc) bool { return strings.Contains(string(f.Params), `"message":"hello all"`) })
		if !strings.Contains(string(msg.Params), `"from":"`+userLogin+"@"+testDomain+`"`) {
			t.Errorf("chat %s: want from %s@%s", msg.Params, userLogin, testDomain)
		}
	}
}

// TestChatHistoryForLateJoiners: a member who subscribes to the chat late
// gets the recent messages in one confd.chat.history event after its
// subscribe result.
func TestChatHistoryForLateJoiners(t *testing.T) {
	env := startServer(t, nil)
	ctx := testCtx(t, 30*time.Second)
	early := dialRaw(ctx, t, env.url, "")
	early.login(ctx, modLogin, modPasswd)
	early.invite(ctx, "3500", 0)
	chat := "conference-chat.3500@" + testDomain
	for _, m := range []string{"first", "second"} {
		early.result(ctx, "verto.broadcast", map[string]any{"eventChannel": chat, "data": map[string]any{"action": "send", "message": m}})
	}
	late := dialRaw(ctx, t, env.url, "")
	late.login(ctx, userLogin, userPasswd)
	late.invite(ctx, "3500", 0)
	late.result(ctx, "verto.subscribe", map[string]any{"eventChannel": chat})
	h := late.expect(ctx, "chat history", func(f *rpc) bool { return strings.Contains(string(f.Params), `"confd.chat.history"`) })
	var p struct {
		Data struct {
			Messages []struct {
				Message string `json:"message"`
			} `json:"messages"`
		} `json:"data"`
	}
	if err := json.Unmarshal(h.Params, &p); err != nil || len(p.Data.Messages) != 2 || p.Data.Messages[0].Message != "first" {
		t.Fatalf("history %s", h.Params)
	}
}

// moderatorAndUser starts a server with the moderator and the participant
// user each in a call in 3500.
func moderatorAndUser(t *testing.T) (*testEnv, context.Context, *wsClient, *wsClient) {
	t.Helper()
	env := startServer(t, nil)
	ctx := testCtx(t, 30*time.Second)
	mod := dialRaw(ctx, t, env.url, "")
	mod.login(ctx, modLogin, modPasswd)
	mod.invite(ctx, "3500", 0)
	user := dialRaw(ctx, t, env.url, "")
	user.login(ctx, userLogin, userPasswd)
	user.invite(ctx, "3500", 0)
	return env, ctx, mod, user
}

// TestRemovedRoomForgotten: a dynamic room's conference (its live array's
// serial) is kept while it has rows, and forgotten once the room is
// removed and its members are gone; a room removed without ever having
// members leaves none either.
func TestRemovedRoomForgotten(t *testing.T) {
	env := startServer(t, func(c *Config) { c.AllowGuests = true })
	ctx := testCtx(t, time.Minute)
	kept := func(r *room.Room) bool {
		env.srv.confMu.Lock()
		defer env.srv.confMu.Unlock()
		return env.srv.confs[r] != nil
	}
	for round := range 3 {
		r, err := env.rooms.Create(room.Config{Number: fmt.Sprint(3600 + round)})
		if err != nil {
			t.Fatal(err)
		}
		var calls []*vertotest.Call
		for i := range round { // none in the first round
			cl, call, err := vertotest.Join(ctx, env.url, fmt.Sprint("g", i), "x", vertotest.CallOptions{Dest: r.Number(), Name: fmt.Sprint("m", i)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { call.Close(); cl.Close() })
			calls = append(calls, call)
		}
		if round > 0 && !kept(r) {
			t.Fatalf("room %s with members has no conference kept", r.Number())
		}
		if err := env.rooms.Remove(r); err != nil {
			t.Fatal(err)
		}
		for _, call := range calls {
			waitUntil(ctx, t, "the room's close ends the call", call.GotBye)
		}
		waitUntil(ctx, t, "members gone", func() bool { return len(r.Members()) == 0 })
		waitUntil(ctx, t, "conference forgotten", func() bool { return !kept(r) })
	}
	env.srv.confMu.Lock()
	defer env.srv.confMu.Unlock()
	if len(env.srv.confs) != 0 {
		t.Errorf("%d conferences kept with only room 3500, which has no one in it", len(env.srv.confs))
	}
}
