package peer

import (
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/confd/confd/room"
)

// A tone at -12 dBFS arrives around -12 dB; what is absent stays under the
// codec's noise (the thresholds of cmd/confd's tone verdict).
const (
	presentDB = -35.0
	absentDB  = -45.0
)

func hears(t *testing.T, who string, c *client, hz float64, present bool) {
	t.Helper()
	level := c.level(hz)
	t.Logf("%s hears %v Hz at %.1f dB", who, hz, level)
	switch {
	case present && level < presentDB:
		t.Errorf("%s: %v Hz at %.1f dB, want it heard", who, hz, level)
	case !present && level > absentDB:
		t.Errorf("%s: %v Hz at %.1f dB, want it absent", who, hz, level)
	}
}

// TestPublishAndSubscribe: two peers in a room, each answering a pion
// client that sends a tone and a camera: each client receives the other's
// camera in its slot and hears the other's tone and not its own; the
// signalling was told who fills the slots; Stats shows the camera and the
// forwarded packets.
func TestPublishAndSubscribe(t *testing.T) {
	env := newEnv(t)
	ctx := testCtx(t)
	a, sigA := env.join(t, "3500", "alice")
	b, _ := env.join(t, "3500", "bob")
	ca, cb := newClient(t, 440, 0xA), newClient(t, 880, 0xB)
	connect(ctx, t, a, ca, 1)
	connect(ctx, t, b, cb, 1)

	waitFor(ctx, t, "bob receives alice's camera", func() bool { return cb.framesFrom(0xA) > 25 })
	waitFor(ctx, t, "alice receives bob's camera", func() bool { return ca.framesFrom(0xB) > 25 })
	waitFor(ctx, t, "both hear a second", func() bool { return ca.level(880) > presentDB && cb.level(440) > presentDB })
	hears(t, "bob", cb, 440, true)
	hears(t, "bob", cb, 880, false)
	hears(t, "alice", ca, 880, true)
	hears(t, "alice", ca, 440, false)

	e, ok := sigA.lastSlots()
	if !ok || len(e.Slots) != 1 || e.Slots[0].MemberID != b.Where().Part.ID {
		t.Errorf("alice's signalling was last told %+v, want bob (%d) in her one slot", e, b.Where().Part.ID)
	}
	st := a.Stats()
	if len(st.Camera) != 1 || st.Camera[0].Packets == 0 || len(st.Slots) != 1 || st.Slots[0].Packets == 0 {
		t.Errorf("alice's stats: camera %+v, slots %+v", st.Camera, st.Slots)
	}
	// Her client's transport-wide feedback on bob's camera made her
	// estimate: every packet it reports on is one confd numbered.
	waitFor(ctx, t, "alice's estimate takes in her client's feedback", func() bool { return a.Stats().Feedback.Feedbacks > 10 })
	if fb := a.Stats().Feedback; fb.Refused != 0 || fb.Unknown != 0 {
		t.Errorf("alice's feedback: %+v, want none refused or on unknown packets", fb)
	}
}

// TestRenegotiateAddsASlot: a re-offer with one more receive-only video
// section is answered on the same PeerConnection with a slot more, and
// after Activate the client receives both publishers.
func TestRenegotiateAddsASlot(t *testing.T) {
	env := newEnv(t)
	ctx := testCtx(t)
	a, _ := env.join(t, "3500", "alice")
	c, _ := env.join(t, "3500", "carol")
	v, sigV := env.join(t, "3500", "viewer")
	ca, cc, cv := newClient(t, 440, 0xA), newClient(t, 660, 0xC), newClient(t, 0, 0)
	connect(ctx, t, a, ca, 1)
	connect(ctx, t, c, cc, 1)
	connect(ctx, t, v, cv, 1)
	pc := v.PC()
	waitFor(ctx, t, "the viewer sees one publisher", func() bool { return cv.framesFrom(0xA)+cv.framesFrom(0xC) > 10 })

	cv.addSlot()
	answer, err := v.Renegotiate(ctx, cv.localSDP(ctx, nil))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(answer, "m=video"); n != 2 || v.PC() != pc {
		t.Fatalf("re-offer answered with %d video sections (same PeerConnection: %v)", n, v.PC() == pc)
	}
	if err := cv.pc.SetRemoteDescription(sessionAnswer(answer)); err != nil {
		t.Fatal(err)
	}
	v.Activate()
	waitFor(ctx, t, "the viewer is told of two slots", func() bool {
		e, ok := sigV.lastSlots()
		return ok && len(e.Slots) == 2 && e.Slots[0].MemberID != 0 && e.Slots[1].MemberID != 0
	})
	waitFor(ctx, t, "the viewer receives both publishers", func() bool { return cv.framesFrom(0xA) > 25 && cv.framesFrom(0xC) > 25 })
	if got := len(v.Stats().Slots); got != 2 {
		t.Errorf("%d slots, want 2", got)
	}
	waitFor(ctx, t, "the viewer hears both", func() bool { return cv.level(440) > presentDB && cv.level(660) > presentDB })
}

// TestDetachAndOffer: a detached peer stays in the room with no media; its
// new client answers the peer's offer and gets video and the mix again,
// and publishes its camera again.
func TestDetachAndOffer(t *testing.T) {
	env := newEnv(t)
	ctx := testCtx(t)
	a, _ := env.join(t, "3500", "alice")
	b, _ := env.join(t, "3500", "bob")
	ca, cb := newClient(t, 440, 0xA), newClient(t, 880, 0xB)
	connect(ctx, t, a, ca, 1)
	connect(ctx, t, b, cb, 1)
	waitFor(ctx, t, "bob receives alice", func() bool { return cb.framesFrom(0xA) > 10 })

	b.Detach()
	cb.close()
	if b.PC() != nil {
		t.Fatal("a detached peer keeps its PeerConnection")
	}
	if n := len(env.room(t, "3500").Members()); n != 2 {
		t.Fatalf("%d members after the detach, want 2", n)
	}
	cb2 := newClient(t, 880, 0xB)
	offer, err := b.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AcceptAnswer(cb2.answerOffer(ctx, offer)); err != nil {
		t.Fatal(err)
	}
	cb2.start()
	b.Activate()
	seen := ca.framesFrom(0xB)
	waitFor(ctx, t, "bob's new client receives alice", func() bool { return cb2.framesFrom(0xA) > 25 })
	waitFor(ctx, t, "alice receives bob's camera again", func() bool { return ca.framesFrom(0xB) > seen+25 })
	waitFor(ctx, t, "bob's new client hears alice", func() bool { return cb2.level(440) > presentDB })
}

// TestMoveTo: a peer moved to another room joins it with the same name,
// its camera shows there and not in the old room, and it hears the new
// room's mix; the callback runs while the old membership stands.
func TestMoveTo(t *testing.T) {
	env := newEnv(t)
	ctx := testCtx(t)
	a, _ := env.join(t, "3500", "alice")
	b, _ := env.join(t, "3500", "bob")
	d, _ := env.join(t, "3600", "dave")
	ca, cb, cd := newClient(t, 440, 0xA), newClient(t, 880, 0xB), newClient(t, 660, 0xD)
	connect(ctx, t, a, ca, 1)
	connect(ctx, t, b, cb, 1)
	connect(ctx, t, d, cd, 1)
	waitFor(ctx, t, "bob receives alice", func() bool { return cb.framesFrom(0xA) > 10 })

	to := env.room(t, "3600")
	var during Membership
	if err := a.MoveTo(to, func(from Membership) { during = a.Where() }); err != nil {
		t.Fatal(err)
	}
	if during.Room != env.room(t, "3500") || a.Where().Room != to || a.Where().Part.Info.Name != "alice" {
		t.Fatalf("membership during the move %v, after %v", during.Room.Number(), a.Where().Room.Number())
	}
	if n := len(env.room(t, "3500").Members()); n != 1 {
		t.Errorf("3500 has %d members after the move, want 1", n)
	}
	waitFor(ctx, t, "dave receives alice in 3600", func() bool { return cd.framesFrom(0xA) > 25 })
	waitFor(ctx, t, "alice hears dave", func() bool { return ca.level(660) > presentDB })
	waitFor(ctx, t, "dave hears alice", func() bool { return cd.level(440) > presentDB })
}

// TestShutLeavesNoGoroutine: peers that published, subscribed,
// renegotiated and detached, once shut (with their clients and the room
// closed), leave no goroutine behind.
func TestShutLeavesNoGoroutine(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	ignore := goleak.IgnoreCurrent()
	func() {
		env := newEnv(t)
		ctx := testCtx(t)
		a, _ := env.join(t, "3500", "alice")
		b, _ := env.join(t, "3500", "bob")
		ca, cb := newClient(t, 440, 0xA), newClient(t, 880, 0xB)
		connect(ctx, t, a, ca, 1)
		connect(ctx, t, b, cb, 1)
		waitFor(ctx, t, "media flows", func() bool { return cb.framesFrom(0xA) > 10 && ca.framesFrom(0xB) > 10 })
		cb.addSlot()
		answer, err := b.Renegotiate(ctx, cb.localSDP(ctx, nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := cb.pc.SetRemoteDescription(sessionAnswer(answer)); err != nil {
			t.Fatal(err)
		}
		b.Activate()
		a.Detach()
		a.Shut()
		b.Shut()
		if a.PC() != nil || b.PC() != nil {
			t.Error("a shut peer keeps a PeerConnection")
		}
		if _, err := a.Answer(ctx, "v=0\r\n"); err == nil {
			t.Error("a shut peer answered an offer")
		}
		ca.close()
		cb.close()
		env.rooms.Close()
		env.media.Close()
	}()
	goleak.VerifyNone(t, ignore)
}

// TestRoomClosesThePeer: the room ending a member (kick) reaches the
// signalling as Closed, with the reason.
func TestRoomClosesThePeer(t *testing.T) {
	env := newEnv(t)
	a, sig := env.join(t, "3500", "alice")
	if err := env.room(t, "3500").Kick(a.Where().Part.ID); err != nil {
		t.Fatal(err)
	}
	sig.mu.Lock()
	defer sig.mu.Unlock()
	if len(sig.closed) != 1 || sig.closed[0] != room.ReasonKicked {
		t.Errorf("signalling told %v, want kicked", sig.closed)
	}
}

// TestBroadcasterAndAudience: a broadcaster (a client that only sends, as
// WHIP's) is heard and takes the presentation; a viewer (Watch, not a
// member) receives the video floor and the mix, and follows the floor.
func TestBroadcasterAndAudience(t *testing.T) {
	env := newEnv(t)
	ctx := testCtx(t)
	r := env.room(t, "3500")
	a, _ := env.join(t, "3500", "alice")
	ca := newClient(t, 440, 0xA)
	connect(ctx, t, a, ca, 1)

	v := New(env.media, &recordingSignal{}, env.log.Named("viewer"))
	t.Cleanup(v.Shut)
	v.Watch(r)
	cv := newClient(t, 0, 0)
	answer, err := v.Answer(ctx, cv.viewerOffer(ctx))
	if err != nil {
		t.Fatal(err)
	}
	cv.accept(answer)
	v.Activate()
	if len(r.Members()) != 1 || r.Viewers() != 1 {
		t.Fatalf("%d members and %d viewers, want alice and one viewer", len(r.Members()), r.Viewers())
	}
	waitFor(ctx, t, "the viewer sees alice", func() bool { return cv.framesFrom(0xA) > 25 })
	waitFor(ctx, t, "the viewer hears alice", func() bool { return cv.level(440) > presentDB })

	sig := &recordingSignal{}
	b := New(env.media, sig, env.log.Named("obs"))
	t.Cleanup(b.Shut)
	if err := b.Join(r, room.JoinInfo{Name: "obs", Kind: room.KindStream, Key: "obs"}); err != nil {
		t.Fatal(err)
	}
	cb := newClient(t, 660, 0xB)
	answer, err = b.Answer(ctx, cb.offer(ctx, -1))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(answer, "a=sendrecv") || strings.Contains(answer, "a=sendonly") {
		t.Errorf("the answer to a broadcaster sends something:\n%s", answer)
	}
	cb.accept(answer)
	b.Activate()
	waitFor(ctx, t, "the viewer sees the broadcast", func() bool { return cv.framesFrom(0xB) > 25 })
	waitFor(ctx, t, "alice sees the broadcast", func() bool { return ca.framesFrom(0xB) > 25 })
	waitFor(ctx, t, "the viewer and alice hear the broadcaster", func() bool { return cv.level(660) > presentDB && ca.level(660) > presentDB })

	v.Shut()
	if r.Viewers() != 0 {
		t.Errorf("%d viewers after the viewer shut", r.Viewers())
	}
}
