package signalling

import (
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/room"
	"github.com/confd/confd/token"
)

// TestTokenAndPINJoins: a valid token joins its room with its role (a
// moderator gets the moderator channel); expired, wrong-room and badly
// signed tokens are refused with a clear error; a room with a PIN admits
// the PIN as a participant and the moderator PIN as a moderator; a room
// whose presenters are moderators refuses a participant's screen share.
func TestTokenAndPINJoins(t *testing.T) {
	const secret = "embed-secret"
	rooms := []room.Config{{Number: "3500"}, {Number: "4000", PIN: "1111", ModeratorPIN: "9999", PresentModerators: true}}
	env := startServerRooms(t, rooms, func(c *Config) { c.TokenSecret = secret; c.AllowGuests = true })
	ctx := testCtx(t, 60*time.Second)
	tokenLogin := func() *wsClient {
		c := dialRaw(ctx, t, env.url, "")
		c.failure(ctx, "login", map[string]any{})
		return c
	}
	// A moderator may join a locked room, and its pvtData says it is locked.
	r3500, _ := env.rooms.Lookup("3500")
	r3500.SetLocked(true)
	mod := tokenLogin()
	mod.result(ctx, "login", map[string]any{"login": "token", "passwd": token.Sign(token.Grant{Room: "3500", Name: "Mo", Role: room.RoleModerator}, secret, time.Now().Add(time.Hour))})
	mod.request(ctx, "verto.clientReady")
	call := mod.invite(ctx, "3500", 0)
	pvt := mod.expect(ctx, "pvtData", func(f *rpc) bool { return strings.Contains(string(f.Params), "channelPvtData") })
	if !strings.Contains(string(pvt.Params), `"role":"moderator"`) || !strings.Contains(string(pvt.Params), `"modChannel"`) ||
		!strings.Contains(string(pvt.Params), `"confd":{"locked":true}`) {
		t.Fatalf("a moderator token's pvtData in a locked room: %s", pvt.Params)
	}
	r3500.SetLocked(false)
	_ = call

	for name, tok := range map[string]string{
		"expired":      token.Sign(token.Grant{Room: "3500"}, secret, time.Now().Add(-time.Minute)),
		"badly signed": token.Sign(token.Grant{Room: "3500"}, "not-the-secret", time.Now().Add(time.Hour)),
	} {
		c := tokenLogin()
		e := c.failure(ctx, "login", map[string]any{"login": "guest", "passwd": "x", "loginParams": map[string]any{"token": tok}})
		if !strings.Contains(string(e), "-32001") || !strings.Contains(string(e), "token") {
			t.Errorf("%s token: %s, want -32001 naming the token", name, e)
		}
	}

	other := tokenLogin()
	other.result(ctx, "login", map[string]any{"login": "token", "passwd": token.Sign(token.Grant{Room: "4000", Name: "X"}, secret, time.Now().Add(time.Hour))})
	e := other.failure(ctx, "verto.invite", inviteParams("c-wrong-room", "3500", ""))
	if !strings.Contains(string(e), "another room") {
		t.Errorf("wrong-room token: %s", e)
	}

	guest := dialRaw(ctx, t, env.url, "")
	guest.login(ctx, "guest", "guest")
	for pin, want := range map[string]string{"": "needs its PIN", "0000": "needs its PIN"} {
		if e := guest.failure(ctx, "verto.invite", inviteParams("c-pin-"+pin, "4000", pin)); !strings.Contains(string(e), want) {
			t.Errorf("PIN %q: %s, want %q", pin, e, want)
		}
	}
	r4000, _ := env.rooms.Lookup("4000")
	for pin, role := range map[string]room.Role{"1111": room.RoleParticipant, "9999": room.RoleModerator} {
		c := dialRaw(ctx, t, env.url, "")
		c.login(ctx, "pin"+pin, "guest")
		c.inviteWith(ctx, "4000", map[string]any{"pin": pin, "caller_id_number": "pin" + pin})
		if got := roleOf(r4000, "pin"+pin); got != role {
			t.Errorf("PIN %s joined as %v, want %v", pin, got, role)
		}
	}
	if e := guest.failure(ctx, "verto.invite", inviteParams("c-screen", "4000-screen", "1111")); !strings.Contains(string(e), "only moderators may share") {
		t.Errorf("a participant's screen share: %s", e)
	}
	// The moderator PIN may also come once, at login.
	lp := dialRaw(ctx, t, env.url, "")
	lp.failure(ctx, "login", map[string]any{})
	lp.result(ctx, "login", map[string]any{"login": "loginpin", "passwd": "guest", "loginParams": map[string]any{"pin": "9999"}})
	lp.request(ctx, "verto.clientReady")
	lp.inviteWith(ctx, "4000", map[string]any{"caller_id_number": "loginpin"})
	if got := roleOf(r4000, "loginpin"); got != room.RoleModerator {
		t.Errorf("loginParams.pin joined as %v, want moderator", got)
	}
}

func roleOf(r *room.Room, number string) room.Role {
	for _, m := range r.Members() {
		if m.Info.Number == number {
			return m.Info.Role
		}
	}
	return -1
}

// inviteParams is a minimal invite whose SDP is never looked at because
// admission fails first.
func inviteParams(callID, dest, pin string) map[string]any {
	return map[string]any{"sdp": "v=0\r\n", "dialogParams": map[string]any{"callID": callID, "destination_number": dest, "pin": pin}}
}
