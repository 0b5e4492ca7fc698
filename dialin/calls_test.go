package dialin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
)

func timeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// memberOf waits for the phone's member in r (by its Call-ID) and returns it.
func memberOf(ctx context.Context, t *testing.T, r *room.Room, p *dialintest.Phone) room.MemberView {
	t.Helper()
	var found room.MemberView
	waitFor(ctx, t, "the phone in the room", func() bool {
		for _, m := range r.Members() {
			if m.Info.Key == p.CallID() {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func inRoom(r *room.Room, p *dialintest.Phone) bool {
	for _, m := range r.Members() {
		if m.Info.Key == p.CallID() {
			return true
		}
	}
	return false
}

func waitBye(ctx context.Context, t *testing.T, p *dialintest.Phone) {
	t.Helper()
	select {
	case <-p.GotBye():
	case <-ctx.Done():
		t.Fatal("confd never sent BYE")
	}
}

func wantStatus(t *testing.T, err error, code int) {
	t.Helper()
	var re *dialintest.ResponseError
	if !errors.As(err, &re) || re.Code != code {
		t.Fatalf("got %v, want %d", err, code)
	}
}

// TestIntegrationPIN: in a room with a PIN and a moderator PIN, the
// moderator PIN (RFC 4733 digits) joins as moderator, the PIN (SIP INFO
// digits) as participant; three wrong PINs end in goodbye and BYE, and the
// caller ID is then locked out (403).
func TestIntegrationPIN(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500", PIN: "1234", ModeratorPIN: "9999"}}, nil)
	ctx := timeout(t, 60*time.Second)
	r := h.room("3500")

	mod := h.dial(ctx, dialintest.Options{Dest: "3500", From: "5550000001"})
	if inRoom(r, mod) {
		t.Fatal("in the room before entering the PIN")
	}
	mod.SendDigits("9999#")
	if m := memberOf(ctx, t, r, mod); m.Info.Role != room.RoleModerator {
		t.Errorf("moderator PIN joined as %v", m.Info.Role)
	}

	part := h.dial(ctx, dialintest.Options{Dest: "3500", From: "5550000002"})
	if code, err := part.SendInfo(ctx, "1234#"); err != nil || code != 200 {
		t.Fatalf("INFO: %d %v", code, err)
	}
	if m := memberOf(ctx, t, r, part); m.Info.Role != room.RoleParticipant {
		t.Errorf("PIN joined as %v", m.Info.Role)
	}

	bad := h.dial(ctx, dialintest.Options{Dest: "3500", From: "5550000003"})
	bad.SendDigits("1111#2222#")
	bad.SendDigits("3333#")
	waitBye(ctx, t, bad)
	if inRoom(r, bad) {
		t.Error("a caller with a wrong PIN got in")
	}
	_, err := h.tryDial(ctx, dialintest.Options{Dest: "3500", From: "5550000003"})
	wantStatus(t, err, 403)
}

// TestIntegrationUnknownRoom: a number that is no room gets 404.
func TestIntegrationUnknownRoom(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	_, err := h.tryDial(timeout(t, 20*time.Second), dialintest.Options{Dest: "4242"})
	wantStatus(t, err, 404)
}

// TestIntegrationDID: a configured DID reaches its room.
func TestIntegrationDID(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) {
		c.DIDs = map[string]string{"+15550001000": "3500"}
	})
	ctx := timeout(t, 20*time.Second)
	memberOf(ctx, t, h.room("3500"), h.dial(ctx, dialintest.Options{Dest: "+15550001000"}))
}

// TestIntegrationNoCommonCodec: an offer of G.729 only gets 488.
func TestIntegrationNoCommonCodec(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	_, err := h.tryDial(timeout(t, 20*time.Second), dialintest.Options{Dest: "3500", Codecs: []string{"G729"}})
	wantStatus(t, err, 488)
}

// TestIntegrationCancelBeforeAnswer: the caller cancels while it rings:
// the INVITE gets 487 and nobody joins the room.
func TestIntegrationCancelBeforeAnswer(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) { c.Ring = time.Hour })
	ctx := timeout(t, 30*time.Second)
	code, err := dialintest.DialCancel(ctx, h.addr("udp"), dialintest.Options{Dest: "3500"})
	if err != nil && code == 0 {
		t.Fatal(err)
	}
	if code != 487 {
		t.Fatalf("final response %d, want 487", code)
	}
	waitFor(ctx, t, "the room to empty", func() bool { return len(h.room("3500").Members()) == 0 })
	waitFor(ctx, t, "the call to go", func() bool { return h.srv.Calls() == 0 })
}

// TestIntegrationByeFromPhone: the phone hangs up; it leaves the room.
func TestIntegrationByeFromPhone(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx := timeout(t, 20*time.Second)
	p := h.dial(ctx, dialintest.Options{Dest: "3500"})
	r := h.room("3500")
	memberOf(ctx, t, r, p)
	if err := p.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the phone to leave", func() bool { return !inRoom(r, p) && h.srv.Calls() == 0 })
}

// TestIntegrationKickSendsBye: a moderator's kick ends the call with a BYE
// from confd.
func TestIntegrationKickSendsBye(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx := timeout(t, 20*time.Second)
	p := h.dial(ctx, dialintest.Options{Dest: "3500"})
	r := h.room("3500")
	if err := r.Kick(memberOf(ctx, t, r, p).ID); err != nil {
		t.Fatal(err)
	}
	waitBye(ctx, t, p)
	waitFor(ctx, t, "the phone to leave", func() bool { return !inRoom(r, p) })
}

// TestIntegrationRTPTimeout: a phone that sends no RTP is hung up.
func TestIntegrationRTPTimeout(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, func(c *dialin.Config) { c.RTPTimeout = time.Second })
	ctx := timeout(t, 20*time.Second)
	p := h.dial(ctx, dialintest.Options{Dest: "3500", NoMedia: true})
	waitBye(ctx, t, p)
	waitFor(ctx, t, "the phone to leave", func() bool { return !inRoom(h.room("3500"), p) })
}

// TestIntegrationHold: a re-INVITE with sendonly puts the phone on hold:
// confd answers recvonly, the member is held and the others no longer hear
// it; sendrecv resumes.
func TestIntegrationHold(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx := timeout(t, 60*time.Second)
	a := h.dial(ctx, dialintest.Options{Dest: "3500", ToneHz: 440})
	untilSilent(ctx, t, a)
	b := h.dial(ctx, dialintest.Options{Dest: "3500", ToneHz: 880})
	untilHears(ctx, t, b, 440)
	r := h.room("3500")
	id := memberOf(ctx, t, r, a).ID

	ans, err := a.Reinvite(ctx, "sendonly")
	if err != nil || !strings.Contains(ans, "a=recvonly") {
		t.Fatalf("hold: %v\n%s", err, ans)
	}
	waitFor(ctx, t, "the member on hold", func() bool { return heldIn(r, id) })
	listen(ctx, t, b)
	hears(t, "b while a is held", b, 440, false)

	ans, err = a.Reinvite(ctx, "sendrecv")
	if err != nil || !strings.Contains(ans, "a=sendrecv") {
		t.Fatalf("unhold: %v\n%s", err, ans)
	}
	waitFor(ctx, t, "the member off hold", func() bool { return !heldIn(r, id) })
	untilHears(ctx, t, b, 440)
}

func heldIn(r *room.Room, id int) bool {
	for _, m := range r.Members() {
		if m.ID == id {
			return m.Held
		}
	}
	return false
}

// TestIntegrationLateOffer: an INVITE without SDP gets confd's offer in
// the 200 and answers in the ACK; audio flows both ways.
func TestIntegrationLateOffer(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx := timeout(t, 60*time.Second)
	a := h.dial(ctx, dialintest.Options{Dest: "3500", ToneHz: 440})
	untilSilent(ctx, t, a)
	b := h.dial(ctx, dialintest.Options{Dest: "3500", ToneHz: 880, LateOffer: true, Codecs: []string{"PCMA"}})
	if !strings.Contains(b.Answer(), "RTP/AVP 0 8 101") {
		t.Errorf("confd's offer:\n%s", b.Answer())
	}
	untilHears(ctx, t, b, 440)
	untilHears(ctx, t, a, 880)
}

// TestIntegrationTCP: a call over TCP.
func TestIntegrationTCP(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx := timeout(t, 20*time.Second)
	p := h.dial(ctx, dialintest.Options{Dest: "3500", Transport: "tcp"})
	memberOf(ctx, t, h.room("3500"), p)
	if err := p.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the phone to leave", func() bool { return !inRoom(h.room("3500"), p) })
}

// TestIntegrationJoinLeaveTones: when a phone joins, the others hear a
// rising pair of beeps (523, then 784 Hz) in the mix; when it leaves, a
// falling pair.
func TestIntegrationJoinLeaveTones(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}}, nil)
	ctx := timeout(t, 60*time.Second)
	a := h.dial(ctx, dialintest.Options{Dest: "3500"})
	untilSilent(ctx, t, a)
	a.ResetHeard()
	b := h.dial(ctx, dialintest.Options{Dest: "3500"})
	beep := func(hz float64) func() bool {
		return func() bool {
			pcm, _ := a.Heard()
			return len(pcm) >= 800 && dialintest.ToneLevel(pcm[len(pcm)-800:], hz) > -30
		}
	}
	waitFor(ctx, t, "the join tone's 784 Hz", beep(784))
	untilSilent(ctx, t, a)
	if err := b.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, "the leave tone's 523 Hz", beep(523))
}

// TestIntegrationFullAndLocked: a full room answers 486, a locked one 403,
// each with its reason.
func TestIntegrationFullAndLocked(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500", MaxMembers: 1}, {Number: "3600"}}, nil)
	ctx := timeout(t, 30*time.Second)
	h.dial(ctx, dialintest.Options{Dest: "3500"})
	_, err := h.tryDial(ctx, dialintest.Options{Dest: "3500"})
	wantStatus(t, err, 486)
	h.room("3600").SetLocked(true)
	_, err = h.tryDial(ctx, dialintest.Options{Dest: "3600"})
	wantStatus(t, err, 403)
}

// TestIntegrationShutdownSaysBye: when the server stops, its rooms close
// and every phone, in a room or still at the PIN prompt, gets a BYE.
func TestIntegrationShutdownSaysBye(t *testing.T) {
	h := newHarness(t, []room.Config{{Number: "3500"}, {Number: "3600", PIN: "1"}}, nil)
	ctx := timeout(t, 30*time.Second)
	in := h.dial(ctx, dialintest.Options{Dest: "3500"})
	memberOf(ctx, t, h.room("3500"), in)
	waiting := h.dial(ctx, dialintest.Options{Dest: "3600"})
	h.close()
	waitBye(ctx, t, in)
	waitBye(ctx, t, waiting)
}
