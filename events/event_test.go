package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/room"
)

var (
	ann = room.MemberRef{ID: 2, Name: "Ann", Kind: room.KindBrowser, Role: room.RoleParticipant}
	mod = room.MemberRef{ID: 1, Name: "Mo", Kind: room.KindPhone, Role: room.RoleModerator}
	t0  = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
)

func activity(kind room.ActivityKind) room.Activity {
	return room.Activity{Kind: kind, Time: t0, Room: "3500", RoomName: "Lobby"}
}

// TestEventJSON: every activity becomes its event with the documented
// envelope and data.
func TestEventJSON(t *testing.T) {
	with := func(a room.Activity, f func(*room.Activity)) room.Activity { f(&a); return a }
	cases := []struct {
		a    room.Activity
		want string
	}{
		{activity(room.RoomStarted), `"type":"room_started",%s,"data":{}`},
		{activity(room.RoomFinished), `"type":"room_finished",%s,"data":{}`},
		{with(activity(room.MemberJoined), func(a *room.Activity) { a.Member = ann }),
			`"type":"participant_joined",%s,"data":{"member":{"id":2,"name":"Ann","kind":"browser","role":"participant"}}`},
		{with(activity(room.MemberLeft), func(a *room.Activity) { a.Member = mod }),
			`"type":"participant_left",%s,"data":{"member":{"id":1,"name":"Mo","kind":"phone","role":"moderator"}}`},
		{with(activity(room.MemberMuted), func(a *room.Activity) { a.Member, a.Muted, a.ByModerator = ann, true, true }),
			`"type":"muted",%s,"data":{"member":{"id":2,"name":"Ann","kind":"browser","role":"participant"},"muted":true,"by_moderator":true}`},
		{with(activity(room.HandRaised), func(a *room.Activity) { a.Member, a.Raised = ann, true }),
			`"type":"hand_raised",%s,"data":{"member":{"id":2,"name":"Ann","kind":"browser","role":"participant"},"raised":true}`},
		{with(activity(room.FloorChanged), func(a *room.Activity) { a.Floor = mod }),
			`"type":"floor_changed",%s,"data":{"floor":{"id":1,"name":"Mo","kind":"phone","role":"moderator"},"video_floor":null,"floor_locked":false}`},
		{with(activity(room.ChatPosted), func(a *room.Activity) {
			a.Chat = room.ChatMessage{From: "system", FromDisplay: "System", Message: "hello\nthere"}
		}), `"type":"chat",%s,"data":{"member":null,"from":"system","name":"System","message":"hello\nthere"}`},
		{activity(room.RecordingStarted), `"type":"recording_started",%s,"data":{}`},
		{activity(room.RecordingFinished), `"type":"recording_finished",%s,"data":{}`},
		{with(activity(room.ModeratorAction), func(a *room.Activity) { a.ByKey, a.Action, a.Member = "ops", "kick", ann }),
			`"type":"moderator_action",%s,"data":{"by":{"key":"ops"},"action":"kick","member":{"id":2,"name":"Ann","kind":"browser","role":"participant"}}`},
		{with(activity(room.ModeratorAction), func(a *room.Activity) { a.By, a.Action, a.Value = mod, "lock", "" }),
			`"type":"moderator_action",%s,"data":{"by":{"member":{"id":1,"name":"Mo","kind":"phone","role":"moderator"}},"action":"lock","member":null}`},
	}
	seen := map[Type]bool{}
	for _, c := range cases {
		e, ok := eventOf(c.a)
		if !ok {
			t.Fatalf("%v: no event", c.a.Kind)
		}
		seen[e.Type] = true
		if len(e.ID) != 36 {
			t.Errorf("id %q", e.ID)
		}
		got := strings.Replace(string(e.JSON()), `"id":"`+e.ID+`",`, "", 1)
		want := "{" + strings.Replace(c.want, "%s", `"time":"2026-03-04T05:06:07Z","room":{"number":"3500","name":"Lobby"}`, 1) + "}"
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", e.Type, got, want)
		}
		if !json.Valid(e.JSON()) {
			t.Errorf("%s: invalid JSON", e.Type)
		}
	}
	for _, ty := range Types {
		if !seen[ty] {
			t.Errorf("no case for %s", ty)
		}
	}
}

// TestFilter: no names pass everything but chat; names pass only
// themselves; an unknown name is an error.
func TestFilter(t *testing.T) {
	var all Filter
	for _, ty := range Types {
		if all.Passes(ty) != (ty != Chat) {
			t.Errorf("the default filter on %s: %v", ty, all.Passes(ty))
		}
	}
	f, err := NewFilter([]string{"chat", "muted"})
	if err != nil || !f.Passes(Chat) || !f.Passes(Muted) || f.Passes(ParticipantJoined) {
		t.Errorf("chat+muted: %v %v", f, err)
	}
	if _, err := NewFilter([]string{"participantJoined"}); !errors.Is(err, ErrUnknownType) {
		t.Errorf("an embed API name: %v, want ErrUnknownType", err)
	}
}

// TestSignAndVerify: a signature verifies against its body and secret
// within the tolerance, and fails for any change.
func TestSignAndVerify(t *testing.T) {
	body := []byte(`{"type":"room_started"}`)
	sig := Sign("s3cret", t0, body)
	if !strings.HasPrefix(sig, "t=1772600767,v1=") || len(sig) != len("t=1772600767,v1=")+64 {
		t.Fatalf("signature %q", sig)
	}
	if err := Verify("s3cret", sig, body, t0.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	bad := map[string]func() error{
		"another body":   func() error { return Verify("s3cret", sig, []byte(`{}`), t0, time.Minute) },
		"another secret": func() error { return Verify("other", sig, body, t0, time.Minute) },
		"too old":        func() error { return Verify("s3cret", sig, body, t0.Add(time.Hour), time.Minute) },
		"from the future": func() error {
			return Verify("s3cret", Sign("s3cret", t0.Add(time.Hour), body), body, t0, time.Minute)
		},
		"no timestamp": func() error { return Verify("s3cret", sig[strings.Index(sig, ",")+1:], body, t0, time.Minute) },
		"a moved stamp": func() error {
			return Verify("s3cret", strings.Replace(sig, "t=1772600767", "t=1772600768", 1), body, t0, time.Minute)
		},
		"garbage": func() error { return Verify("s3cret", "hello", body, t0, time.Minute) },
	}
	for name, f := range bad {
		if err := f(); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
}
