package signalling

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/room"
)

// memberIDs lists the room's member IDs.
func memberIDs(r *room.Room) []int {
	var ids []int
	for _, m := range r.Members() {
		ids = append(ids, m.ID)
	}
	return ids
}

// onlyMember is the ID of the room's one member.
func onlyMember(t *testing.T, r *room.Room) int {
	t.Helper()
	ids := memberIDs(r)
	if len(ids) != 1 {
		t.Fatalf("room has members %v, want one", ids)
	}
	return ids[0]
}

// TestServerBye: a kicked member and the members of a closed room get
// verto.bye with their call ID and a cause, and the verto.bye verto.js sends
// back gets -32002 CALL DOES NOT EXIST. A client's own verto.bye gets a
// CALL ENDED result and no bye back.
func TestServerBye(t *testing.T) {
	env := startServer(t, nil)
	ctx := testCtx(t, 30*time.Second)
	r := env.room3500(t)
	c := dialRaw(ctx, t, env.url, "sessid-bye")
	c.login(ctx, userLogin, userPasswd)

	// The client hangs up: CALL ENDED, with its cause.
	call := c.invite(ctx, "3500", 1)
	res := c.result(ctx, "verto.bye", map[string]any{"dialogParams": map[string]any{"callID": call.id}, "cause": "USER_BUSY", "causeCode": 17})
	jsonEq(t, "client bye", res, fmt.Sprintf(`{"callID":%q,"message":"CALL ENDED","causeCode":17,"cause":"USER_BUSY","sessid":"sessid-bye"}`, call.id))
	waitUntil(ctx, t, "member left after bye", func() bool { return len(r.Members()) == 0 })

	// Kicked.
	call = c.invite(ctx, "3500", 1)
	if err := r.Kick(onlyMember(t, r)); err != nil {
		t.Fatal(err)
	}
	bye := c.request(ctx, "verto.bye")
	jsonEq(t, "kick bye", bye.Params, fmt.Sprintf(`{"callID":%q,"causeCode":503,"cause":"MANAGER_REQUEST"}`, call.id))
	// verto.js acknowledges, then sends its own bye.
	c.writeText(fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"method":"verto.bye"}}`, bye.ID))
	e := c.failure(ctx, "verto.bye", map[string]any{"dialogParams": map[string]any{"callID": call.id}, "cause": "NORMAL_CLEARING"})
	jsonEq(t, "bye after kick", e, fmt.Sprintf(`{"code":-32002,"message":"CALL DOES NOT EXIST","callID":%q}`, call.id))
	waitUntil(ctx, t, "kicked member left", func() bool { return len(r.Members()) == 0 })
	if err := r.Kick(12345); err == nil {
		t.Error("kicking an unknown member succeeded")
	}

	// The rooms close (server shutdown).
	call = c.invite(ctx, "3500", 0)
	env.rooms.Close()
	bye = c.request(ctx, "verto.bye")
	jsonEq(t, "shutdown bye", bye.Params, fmt.Sprintf(`{"callID":%q,"causeCode":501,"cause":"SYSTEM_SHUTDOWN"}`, call.id))
	e = c.failure(ctx, "verto.bye", map[string]any{"dialogParams": map[string]any{"callID": call.id}})
	jsonEq(t, "bye after shutdown", e, fmt.Sprintf(`{"code":-32002,"message":"CALL DOES NOT EXIST","callID":%q}`, call.id))
	waitUntil(ctx, t, "members left after close", func() bool { return len(r.Members()) == 0 })
	// A closed room takes no one.
	e = c.failure(ctx, "verto.invite", map[string]any{"sdp": "v=0\r\n", "dialogParams": map[string]any{"callID": "late", "destination_number": "3500"}})
	jsonEq(t, "invite to a closed room", e, `{"code":-32002,"message":"CALL ERROR","callID":"late","cause":"CALL_REJECTED","causeCode":21,"reason":"room is closed"}`)
	c.echoOK(ctx)
	// No further bye arrived for any of the calls.
	for _, f := range c.backlog {
		if f.Method == "verto.bye" {
			t.Errorf("extra bye: %s", f)
		}
	}
}

// TestUpdateMediaAndHold: verto.modify hold, unhold and toggleHold return
// the hold state; updateMedia with a re-offer that adds a receive-only video
// section is answered with an extra send-only video section, and the
// member gets one more slot.
func TestUpdateMediaAndHold(t *testing.T) {
	env := startServer(t, nil)
	ctx := testCtx(t, 30*time.Second)
	r := env.room3500(t)
	c := dialRaw(ctx, t, env.url, "sessid-modify")
	c.login(ctx, userLogin, userPasswd)
	call := c.invite(ctx, "3500", 1)
	checkStreamGroups(t, "answer", call.pc.RemoteDescription().SDP)
	ev := c.expect(ctx, "one slot", func(f *rpc) bool { s, ok := slotsOf(f); return ok && s.CallID == call.id })
	s, _ := slotsOf(ev)
	if len(s.Slots) != 1 || s.Slots[0].Slot != 0 || s.Slots[0].MemberID != 0 || s.Slots[0].MID == "" {
		t.Fatalf("first slots event: %s", ev)
	}

	modify := func(action string, extra map[string]any) map[string]any {
		p := map[string]any{"action": action, "dialogParams": map[string]any{"callID": call.id}}
		for k, v := range extra {
			p[k] = v
		}
		return p
	}
	for _, step := range []struct {
		action, state string
		held          bool
	}{
		{"hold", "held", true},
		{"hold", "held", true},
		{"unhold", "active", false},
		{"toggleHold", "held", true},
		{"toggleHold", "active", false},
		{"toggleHold", "held", true},
		{"unhold", "active", false},
		{"videoRefresh", "active", false},
	} {
		res := c.result(ctx, "verto.modify", modify(step.action, nil))
		jsonEq(t, step.action, res, fmt.Sprintf(`{"callID":%q,"action":%q,"holdState":%q,"sessid":"sessid-modify"}`, call.id, step.action, step.state))
		if held := r.Members()[0].Held; held != step.held {
			t.Fatalf("after %s the member is held=%v", step.action, held)
		}
	}
	jsonEq(t, "transfer", c.failure(ctx, "verto.modify", modify("transfer", map[string]any{"destination": "3600"})),
		fmt.Sprintf(`{"code":-32002,"message":"unsupported action","callID":%q,"action":"transfer"}`, call.id))
	jsonEq(t, "updateMedia without sdp", c.failure(ctx, "verto.modify", modify("updateMedia", nil)),
		fmt.Sprintf(`{"code":-32002,"message":"SDP missing","callID":%q,"action":"updateMedia"}`, call.id))

	// Re-offer with one more receive-only video section.
	tr, err := call.pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	if err != nil {
		t.Fatal(err)
	}
	offer := localSDP(ctx, t, call.pc, nil)
	res := c.result(ctx, "verto.modify", modify("updateMedia", map[string]any{"sdp": offer}))
	var got struct {
		CallID, Action, HoldState, SDP, Sessid string
	}
	if err := jsonUnmarshalStrict(res, &got); err != nil {
		t.Fatal(err)
	}
	if got.CallID != call.id || got.Action != "updateMedia" || got.HoldState != "active" || got.Sessid != "sessid-modify" || got.SDP == "" {
		t.Fatalf("updateMedia result: %s", res)
	}
	checkStreamGroups(t, "updateMedia answer", got.SDP)
	dirs := videoDirections(t, got.SDP)
	newMID := tr.Mid()
	if len(dirs) != 2 || dirs[newMID] != "sendonly" {
		t.Fatalf("answer video sections %v, want two with mid %s sendonly:\n%s", dirs, newMID, got.SDP)
	}
	if err := call.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: got.SDP}); err != nil {
		t.Fatal(err)
	}
	ev = c.expect(ctx, "two slots", func(f *rpc) bool { s, ok := slotsOf(f); return ok && len(s.Slots) == 2 })
	s, _ = slotsOf(ev)
	var mids []string
	for i, sl := range s.Slots {
		if sl.Slot != i {
			t.Fatalf("slot %d numbered %d: %s", i, sl.Slot, ev)
		}
		mids = append(mids, sl.MID)
	}
	if !slices.Contains(mids, newMID) {
		t.Fatalf("slots %v lack the new section %s", mids, newMID)
	}
	for mid := range dirs {
		if !slices.Contains(mids, mid) {
			t.Fatalf("slots %v lack video section %s", mids, mid)
		}
	}
	c.echoOK(ctx)
}

// videoDirections maps each video section's mid to its direction.
func videoDirections(t *testing.T, s string) map[string]string {
	t.Helper()
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "video" {
			continue
		}
		mid, _ := m.Attribute("mid")
		dir := "sendrecv"
		for _, a := range m.Attributes {
			if slices.Contains([]string{"sendrecv", "sendonly", "recvonly", "inactive"}, a.Key) {
				dir = a.Key
			}
		}
		out[mid] = dir
	}
	return out
}

// jsonUnmarshalStrict decodes a result whose members are all known.
func jsonUnmarshalStrict(raw []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// checkStreamGroups: in an SDP of confd's (an answer or an attach offer)
// the mix's audio and the first video slot are one media stream (a=msid),
// which clients that play "the remote stream" in one element need, and
// every further slot has a stream of its own.
func checkStreamGroups(t *testing.T, what, s string) {
	t.Helper()
	var d sdp.SessionDescription
	if err := d.UnmarshalString(s); err != nil {
		t.Fatal(err)
	}
	var audio string
	var video []string
	for _, m := range d.MediaDescriptions {
		msid, _ := m.Attribute("msid")
		stream, _, _ := strings.Cut(msid, " ")
		switch m.MediaName.Media {
		case "audio":
			audio = stream
		case "video":
			video = append(video, stream)
		}
	}
	if audio == "" || len(video) == 0 || video[0] != audio {
		t.Errorf("%s: audio in stream %q, video slots in %q: want the audio in slot 0's stream\n%s", what, audio, video, s)
	}
	for i := 1; i < len(video); i++ {
		if slices.Contains(video[:i], video[i]) {
			t.Errorf("%s: slot %d shares stream %q with an earlier slot: %q", what, i, video[i], video)
		}
	}
}
