package signalling

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// vmember is a vertotest participant: a client and its call.
type vmember struct {
	name   string
	login  string
	ssrc   uint32
	client *vertotest.Client
	call   *vertotest.Call
}

// joinV logs in (as login, or as a guest named name) and calls 3500 with a
// publishing camera and the given number of slots.
func joinV(ctx context.Context, t *testing.T, env *testEnv, login, passwd, name string, ssrc uint32, slots int) *vmember {
	t.Helper()
	c, call, err := vertotest.Join(ctx, env.url, login, passwd, vertotest.CallOptions{Dest: "3500", Name: name, Slots: slots, Publish: true, SSRC: ssrc})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Cleanup(call.Close)
	return &vmember{name: name, login: login, ssrc: ssrc, client: c, call: call}
}

// memberID is the room member ID of the member called name.
func memberID(t *testing.T, r *room.Room, name string) int {
	t.Helper()
	for _, m := range r.Members() {
		if m.Info.Name == name {
			return m.ID
		}
	}
	t.Fatalf("no member %q in %v", name, r.Members())
	return 0
}

// waitRequest reads the client's server requests until one of method
// arrives; the ones before it are returned too.
func waitRequest(ctx context.Context, t *testing.T, c *vertotest.Client, method string) (vertotest.Request, []vertotest.Request) {
	t.Helper()
	var before []vertotest.Request
	for {
		select {
		case r := <-c.Requests():
			if r.Method == method {
				return r, before
			}
			before = append(before, r)
		case <-ctx.Done():
			t.Fatalf("no %s: %v (got %d other requests)", method, ctx.Err(), len(before))
		}
	}
}

// slotMembers is the member ID shown in each slot of a confd.slots event
// delivered as a server request, for callID; ok is false for other requests.
func slotMembers(r vertotest.Request, callID string) ([]int, bool) {
	if r.Method != "verto.event" {
		return nil, false
	}
	var p struct {
		EventChannel string     `json:"eventChannel"`
		Data         slotsEvent `json:"data"`
	}
	if json.Unmarshal(r.Params, &p) != nil || p.EventChannel != slotsChannel || p.Data.CallID != callID {
		return nil, false
	}
	var ids []int
	for _, s := range p.Data.Slots {
		ids = append(ids, s.MemberID)
	}
	return ids, true
}

// slot0 is the stream of the call's first slot, once it exists.
func slot0(c *vertotest.Call) *vertotest.Stream {
	s := c.Slots()
	if len(s.Slots) == 0 {
		return nil
	}
	return c.Stream(s.Slots[0].MID)
}

// reconnect has a new connection with m's sessid take over m's call and
// log in; it returns the new client and the call's verto.attach and
// verto.clientReady.
func reconnect(ctx context.Context, t *testing.T, env *testEnv, m *vmember, passwd string) (*vertotest.Client, vertotest.Request, vertotest.Request) {
	t.Helper()
	nc, err := vertotest.Dial(ctx, env.url, m.client.Sessid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	nc.Adopt(m.call)
	if err := nc.Login(ctx, m.login, passwd); err != nil {
		t.Fatalf("%s: login again: %v", m.name, err)
	}
	attach, _ := waitRequest(ctx, t, nc, "verto.attach")
	ready, _ := waitRequest(ctx, t, nc, "verto.clientReady")
	m.client = nc
	return nc, attach, ready
}

// checkAttach checks the verto.attach offer and the clientReady after it,
// and that the call's client answered the offer.
func checkAttach(ctx context.Context, t *testing.T, m *vmember, attach, ready vertotest.Request) {
	t.Helper()
	var a struct {
		CallID, SDP, DisplayDirection string
		Variables                     map[string]any
	}
	if err := json.Unmarshal(attach.Params, &a); err != nil {
		t.Fatal(err)
	}
	var dd struct {
		D string `json:"display_direction"`
	}
	_ = json.Unmarshal(attach.Params, &dd)
	if a.CallID != m.call.ID || !strings.Contains(a.SDP, "m=audio") || !strings.Contains(a.SDP, "m=video") ||
		!strings.Contains(a.SDP, "a=candidate") || a.Variables == nil || dd.D != "inbound" {
		t.Fatalf("verto.attach params: %s", attach.Params)
	}
	checkStreamGroups(t, "attach offer", a.SDP)
	jsonEq(t, "clientReady", ready.Params, fmt.Sprintf(`{"reattached_sessions":[%q]}`, m.call.ID))
	select {
	case <-m.call.Attached():
	case <-ctx.Done():
		t.Fatalf("%s: attach not answered: %v", m.name, ctx.Err())
	}
	if err := m.call.AttachErr(); err != nil {
		t.Fatalf("%s: attach: %v", m.name, err)
	}
}

// TestReattach: a member whose websocket closes comes back on a new
// connection with the same sessid within the attach window; confd offers
// the call again with verto.attach, media flows again from a key frame, and
// the room kept the member. Without a reconnect the call ends when the
// window passes.
func TestReattach(t *testing.T) {
	t.Run("reconnect", func(t *testing.T) {
		env := startServer(t, func(c *Config) { c.AllowGuests = true })
		ctx := testCtx(t, 60*time.Second)
		r := env.room3500(t)
		alice := joinV(ctx, t, env, "alice@"+testDomain, "pw", "alice", 1111, 1)
		bob := joinV(ctx, t, env, "bob@"+testDomain, "pw", "bob", 2222, 1)
		if err := alice.call.WaitSources(ctx, bob.ssrc); err != nil {
			t.Fatalf("alice never saw bob: %v", err)
		}
		if err := bob.call.WaitSources(ctx, alice.ssrc); err != nil {
			t.Fatalf("bob never saw alice: %v", err)
		}
		aliceID, bobID := memberID(t, r, "alice"), memberID(t, r, "bob")
		waitUntil(ctx, t, "bob's slot shows alice", func() bool {
			s := bob.call.Slots().Slots
			return len(s) == 1 && s[0].MemberID == aliceID
		})

		// The socket drops; the client comes back at once, maybe before
		// confd noticed (then the old session is punted).
		_ = alice.client.Close()
		_, attach, ready := reconnect(ctx, t, env, alice, "pw")
		checkAttach(ctx, t, alice, attach, ready)
		bobStream := slot0(bob.call)
		seen := len(bobStream.Packets())

		// Alice receives bob again, on the new PeerConnection, from a key frame.
		if err := alice.call.WaitSources(ctx, bob.ssrc); err != nil {
			t.Fatalf("alice does not see bob after reattaching: %v", err)
		}
		waitUntil(ctx, t, "alice's slot shows bob", func() bool {
			s := alice.call.Slots().Slots
			return len(s) == 1 && s[0].MemberID == bobID && slot0(alice.call) != nil
		})
		stream := slot0(alice.call)
		if lost, err := stream.Check(); err != nil || lost > len(stream.Packets())/20 {
			t.Fatalf("alice's slot after reattach: %d lost, %v", lost, err)
		}
		// The room kept alice: same member, and bob gets her video again.
		if ids := memberIDs(r); !slices.Equal(ids, []int{aliceID, bobID}) {
			t.Fatalf("members after reattach %v, want [%d %d]", ids, aliceID, bobID)
		}
		waitUntil(ctx, t, "bob gets a new key frame from alice", func() bool {
			pkts := bobStream.Packets()
			return slices.ContainsFunc(pkts[min(seen, len(pkts)):], func(p vertotest.Packet) bool { return p.Keyframe && p.Source == alice.ssrc })
		})
		waitUntil(ctx, t, "bob's slot shows alice again", func() bool {
			s := bob.call.Slots().Slots
			return len(s) == 1 && s[0].MemberID == aliceID
		})
		if _, err := bobStream.Check(); err != nil {
			t.Errorf("bob's slot across alice's reattach: %v", err)
		}
		// Every slot event bob got named alice, or nobody.
		for len(bob.client.Requests()) > 0 {
			if ids, ok := slotMembers(<-bob.client.Requests(), bob.call.ID); ok && slices.ContainsFunc(ids, func(id int) bool { return id != 0 && id != aliceID }) {
				t.Errorf("bob's slots showed %v; alice is %d", ids, aliceID)
			}
		}
		if err := alice.call.Hangup(ctx); err != nil {
			t.Fatalf("hangup after reattach: %v", err)
		}
	})

	t.Run("window expires", func(t *testing.T) {
		env := startServer(t, func(c *Config) { c.AllowGuests = true; c.AttachWindow = time.Millisecond })
		ctx := testCtx(t, 60*time.Second)
		r := env.room3500(t)
		alice := joinV(ctx, t, env, "alice@"+testDomain, "pw", "alice", 1111, 1)
		bob := joinV(ctx, t, env, "bob@"+testDomain, "pw", "bob", 2222, 1)
		if err := bob.call.WaitSources(ctx, alice.ssrc); err != nil {
			t.Fatalf("bob never saw alice: %v", err)
		}
		aliceID := memberID(t, r, "alice")
		waitUntil(ctx, t, "bob's slot shows alice", func() bool {
			s := bob.call.Slots().Slots
			return len(s) == 1 && s[0].MemberID == aliceID
		})

		_ = alice.client.Close()
		waitUntil(ctx, t, "alice's call ended", func() bool { return !slices.Contains(memberIDs(r), aliceID) })
		waitUntil(ctx, t, "bob's slot no longer shows alice", func() bool {
			s := bob.call.Slots().Slots
			return len(s) == 1 && s[0].MemberID == 0
		})
		env.srv.mu.Lock()
		detached := len(env.srv.detached)
		env.srv.mu.Unlock()
		if detached != 0 {
			t.Errorf("%d sessids still have detached calls", detached)
		}
		// Coming back now finds nothing to reattach.
		nc, err := vertotest.Dial(ctx, env.url, alice.client.Sessid)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = nc.Close() })
		if err := nc.Login(ctx, alice.login, "pw"); err != nil {
			t.Fatal(err)
		}
		ready, before := waitRequest(ctx, t, nc, "verto.clientReady")
		jsonEq(t, "clientReady", ready.Params, `{"reattached_sessions":[]}`)
		for _, req := range before {
			if req.Method == "verto.attach" {
				t.Errorf("attach for an ended call: %s", req.Params)
			}
		}
	})
}

// TestPunt: a second connection logging in with the same sessid and user
// punts the first, which is closed, and takes its calls over; with another
// user the second gets -32001 "Session in use" and is closed, and the first
// stays.
func TestPunt(t *testing.T) {
	env := startServer(t, nil)
	ctx := testCtx(t, 60*time.Second)
	const S = "sessid-punt"

	old := dialRaw(ctx, t, env.url, S)
	old.login(ctx, modLogin, modPasswd)
	old.echoOK(ctx)

	// Same user: the old connection is punted.
	cur := dialRaw(ctx, t, env.url, S)
	cur.login(ctx, modLogin, modPasswd)
	punt := old.request(ctx, "verto.punt")
	jsonEq(t, "punt params", punt.Params, `{}`)
	old.waitClosed(ctx)
	cur.echoOK(ctx)

	// Another user: refused, and dropped.
	other := dialRaw(ctx, t, env.url, S)
	jsonEq(t, "credential-less login", other.failure(ctx, "login", map[string]any{}), `{"code":-32000,"message":"Authentication Required"}`)
	e := other.failure(ctx, "login", map[string]any{"login": userLogin + "@" + testDomain, "passwd": userPasswd})
	jsonEq(t, "other user", e, `{"code":-32001,"message":"Session in use"}`)
	other.waitClosed(ctx)
	cur.echoOK(ctx)
	for _, f := range cur.backlog {
		if f.Method == "verto.punt" {
			t.Fatalf("the holder was punted by a refused login")
		}
	}
	if sessionOf(env.srv, S) == nil {
		t.Fatal("the sessid lost its session")
	}

	// A login under another sessid on the same socket gives up the old one.
	cur.writeText(`{"jsonrpc":"2.0","method":"login","params":{"login":"1000","passwd":"1234","sessid":"sessid-punt-renamed"},"id":"again"}`)
	jsonEq(t, "login again", cur.reply(ctx, []byte(`"again"`)).Result, `{"message":"logged in","moderator":true,"sessid":"sessid-punt-renamed"}`)
	if sessionOf(env.srv, S) != nil || sessionOf(env.srv, "sessid-punt-renamed") == nil {
		t.Fatal("re-login did not move the session to its new sessid")
	}
	// Now the first sessid is free for anyone.
	free := dialRaw(ctx, t, env.url, S)
	free.login(ctx, userLogin, userPasswd)
	free.echoOK(ctx)
	cur.echoOK(ctx)
}

// TestPuntHandsOverCalls: a connection that takes over a sessid still held
// by a live connection (same user) gets that connection's call with
// verto.attach, and media flows on it again.
func TestPuntHandsOverCalls(t *testing.T) {
	env := startServer(t, nil)
	ctx := testCtx(t, 60*time.Second)
	r := env.room3500(t)
	alice := joinV(ctx, t, env, modLogin+"@"+testDomain, modPasswd, "alice", 1111, 1)
	bob := joinV(ctx, t, env, userLogin+"@"+testDomain, userPasswd, "bob", 2222, 1)
	if err := alice.call.WaitSources(ctx, bob.ssrc); err != nil {
		t.Fatalf("alice never saw bob: %v", err)
	}
	aliceID := memberID(t, r, "alice")

	oldClient := alice.client
	_, attach, ready := reconnect(ctx, t, env, alice, modPasswd)
	punt, _ := waitRequest(ctx, t, oldClient, "verto.punt")
	jsonEq(t, "punt params", punt.Params, `{}`)
	select {
	case <-oldClient.Done():
	case <-ctx.Done():
		t.Fatal("the punted connection was not closed")
	}
	checkAttach(ctx, t, alice, attach, ready)
	if err := alice.call.WaitSources(ctx, bob.ssrc); err != nil {
		t.Fatalf("alice does not see bob after the takeover: %v", err)
	}
	if err := bob.call.WaitSources(ctx, alice.ssrc); err != nil {
		t.Fatalf("bob does not see alice after the takeover: %v", err)
	}
	if got := memberID(t, r, "alice"); got != aliceID {
		t.Fatalf("alice is member %d after the takeover, was %d", got, aliceID)
	}
}
