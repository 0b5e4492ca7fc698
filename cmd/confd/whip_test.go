package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
	"github.com/confd/confd/token"
)

const (
	streamKey   = "stream-key-of-3500"
	tokenSecret = "whip-test-secret"
	simBase     = 7000 // the broadcaster's frames: q, h, f carry 7000, 7001, 7002
)

func (a *app) httpURL(path string) string { return "http://" + a.addrs["http"].String() + path }

// withWHIP gives 3500 a stream key, lets anyone watch it, and sets the
// token secret.
func withWHIP(c *Config) {
	c.Verto.TokenSecret = tokenSecret
	c.Rooms = []RoomConfig{{Number: "3500", Name: "Default room", StreamKey: streamKey, WHEP: room.WHEPOpen},
		{Number: "3600", WHEP: room.WHEPOff}}
}

// laRow is a live-array event as a Verto client receives it.
type laRow struct {
	action, name, kind string
	muted              bool
}

// liveArrayRows decodes the live-array events among c's events.
func liveArrayRows(ctx context.Context, c *vertotest.Client, until func(laRow) bool) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case raw := <-c.Events():
			var ev struct {
				EventChannel string `json:"eventChannel"`
				Data         struct {
					Action string `json:"action"`
					Data   []any  `json:"data"`
				} `json:"data"`
			}
			if json.Unmarshal(raw, &ev) != nil || !strings.HasPrefix(ev.EventChannel, "conference-liveArray.") {
				continue
			}
			row := laRow{action: ev.Data.Action}
			if len(ev.Data.Data) >= 5 {
				row.name, _ = ev.Data.Data[2].(string)
				var st struct {
					Audio struct{ Muted bool }  `json:"audio"`
					Confd struct{ Kind string } `json:"confd"`
				}
				if s, ok := ev.Data.Data[4].(string); ok && json.Unmarshal([]byte(s), &st) == nil {
					row.kind, row.muted = st.Confd.Kind, st.Audio.Muted
				}
			}
			if until(row) {
				return nil
			}
		}
	}
}

// TestWHIPBroadcasterPresents: a pion WHIP client publishes three VP8
// simulcast layers and a 660 Hz tone into 3500 with the room's stream key.
// A Verto member sees it in its presentation slot and hears its tone; the
// live array shows a member of kind stream; DELETE takes it out of the
// room before the reply, and out of the list and the slot.
func TestWHIPBroadcasterPresents(t *testing.T) {
	a := startTestApp(t, withWHIP)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	vc, viewer, err := vertotest.Join(ctx, a.vertoURL(), "viewer", "guest", vertotest.CallOptions{Dest: "3500", Name: "viewer", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viewer.Close(); _ = vc.Close() })
	if r, err := vc.Request(ctx, "verto.subscribe", map[string]any{"eventChannel": "conference-liveArray.3500@localhost"}); err != nil || r.Error != nil {
		t.Fatalf("subscribe: %v %v", err, r)
	}

	pub, sess, err := vertotest.Publish(ctx, a.httpURL("/whip/3500"), streamKey, vertotest.CallOptions{Name: "obs", Simulcast: true, SSRC: simBase, ToneHz: 660})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	if sess.ETag == "" || !strings.Contains(sess.URL, "/whip/3500/") {
		t.Errorf("session %+v: want a Location under /whip/3500/ and an ETag", sess)
	}
	if err := liveArrayRows(ctx, vc, func(r laRow) bool { return r.action == "add" && r.kind == "stream" }); err != nil {
		t.Fatal("the live array never showed the broadcaster as a stream member")
	}
	presented := func() bool {
		st := viewer.Stream(viewer.Slots().Slots[0].MID)
		return st != nil && st.CurrentSource() >= simBase && st.CurrentSource() <= simBase+2
	}
	if err := vertotest.WaitFor(ctx, presented); err != nil {
		t.Fatal("the viewer's slot 0 never showed the broadcast")
	}
	listen(ctx, t, viewer)
	hears(t, "the Verto member", viewer, 660, true)

	status, err := sess.Delete(ctx)
	if err != nil || status != http.StatusOK {
		t.Fatalf("DELETE: %d %v", status, err)
	}
	r, _ := a.rooms.Lookup("3500")
	for _, m := range r.Members() {
		if m.Info.Kind == room.KindStream {
			t.Errorf("the broadcaster is still a member after DELETE answered")
		}
	}
	if err := liveArrayRows(ctx, vc, func(r laRow) bool { return r.action == "del" }); err != nil {
		t.Fatal("the live array never dropped the broadcaster")
	}
	if err := vertotest.WaitFor(ctx, func() bool { return viewer.Slots().Slots[0].MemberID == 0 }); err != nil {
		t.Error("the viewer's slot still shows the broadcaster")
	}
	if status, _ := sess.Delete(ctx); status != http.StatusNotFound {
		t.Errorf("a second DELETE: %d, want 404", status)
	}
}

// TestWHEPAudience: viewers of a room where two Verto members talk decode
// the floor's video and hear the talk; after the floor moves they get the
// new talker's video, starting with a key frame. Viewers are not members;
// the room counts them.
func TestWHEPAudience(t *testing.T) {
	viewers := 50
	if testing.Short() {
		viewers = 5
	}
	a := startTestApp(t, func(c *Config) {
		withWHIP(c)
		c.WHIP.MaxSessionsPerAddress = viewers
	})
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	talker := func(name string, hz float64, ssrc uint32) *vertotest.Call {
		vc, call, err := vertotest.Join(ctx, a.vertoURL(), name, "guest", vertotest.CallOptions{Dest: "3500", Name: name, Slots: 1, Publish: true, SSRC: ssrc, ToneHz: hz})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { call.Close(); _ = vc.Close() })
		return call
	}
	talker("alice", 440, 1111)
	talker("bob", 880, 2222)
	r, _ := a.rooms.Lookup("3500")

	calls := make([]*vertotest.Call, viewers)
	for i := range calls {
		c, _, err := vertotest.Watch(ctx, a.httpURL("/whep/3500"), "", vertotest.CallOptions{Name: "viewer"})
		if err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
		t.Cleanup(c.Close)
		calls[i] = c
	}
	if n, v := len(r.Members()), r.Viewers(); n != 2 || v != viewers {
		t.Fatalf("%d members and %d viewers, want 2 and %d", n, v, viewers)
	}
	source := func(c *vertotest.Call) *vertotest.Stream {
		if s := c.Streams(); len(s) == 1 {
			return s[0]
		}
		return nil
	}
	floorSSRC := func() uint32 {
		for _, m := range r.Members() {
			p := r.Participant(m.ID)
			if p != nil && p.Row().VideoFloor {
				return map[string]uint32{"alice": 1111, "bob": 2222}[m.Info.Name]
			}
		}
		return 0
	}
	var first uint32
	if err := vertotest.WaitFor(ctx, func() bool { first = floorSSRC(); return first != 0 }); err != nil {
		t.Fatal("nobody holds the floor")
	}
	for i, c := range calls {
		if err := vertotest.WaitFor(ctx, func() bool { s := source(c); return s != nil && s.CurrentSource() == first }); err != nil {
			t.Fatalf("viewer %d never decoded the floor (%d)", i, first)
		}
	}
	listen(ctx, t, calls[0], calls[viewers-1])
	hears(t, "viewer 0", calls[0], 440, true)
	hears(t, "viewer 0", calls[0], 880, true)
	hears(t, "the last viewer", calls[viewers-1], 440, true)

	// The floor holder stops talking (a moderator's mute): the floor moves.
	seen := make([]int, viewers)
	for i, c := range calls {
		seen[i] = len(source(c).Packets())
	}
	holder := "alice"
	if first == 2222 {
		holder = "bob"
	}
	if err := r.Mute(memberIDOf(t, a, holder), true); err != nil {
		t.Fatal(err)
	}
	next := map[uint32]uint32{1111: 2222, 2222: 1111}[first]
	for i, c := range calls {
		s := source(c)
		if err := vertotest.WaitFor(ctx, func() bool { return s.CurrentSource() == next }); err != nil {
			t.Fatalf("viewer %d never got the new floor (%d): sources %v", i, next, s.Sources())
		}
		pkts := s.Packets()[seen[i]:]
		j := slices.IndexFunc(pkts, func(p vertotest.Packet) bool { return p.Source == next })
		if j < 0 || !pkts[j].Keyframe {
			t.Errorf("viewer %d: the new floor's video did not start with a key frame", i)
		}
	}
	if m := r.Metrics(); m.Viewers != viewers {
		t.Errorf("metrics count %d viewers, want %d", m.Viewers, viewers)
	}
}

// TestWHIPRefusals: every bad request gets its status and a JSON reason,
// and leaves no member, session, goroutine or socket behind.
func TestWHIPRefusals(t *testing.T) {
	a := startTestApp(t, func(c *Config) {
		withWHIP(c)
		c.WHIP.MaxSessionsPerAddress = 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	offer := func(opts vertotest.CallOptions) string {
		t.Helper()
		s, err := vertotest.MakeOffer(opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := offer(vertotest.CallOptions{Broadcast: true, SSRC: 1})
	watch := offer(vertotest.CallOptions{Watch: true})
	pcmuOnly := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 127.0.0.1\r\na=mid:0\r\na=sendonly\r\na=rtpmap:0 PCMU/8000\r\n"
	noICE := strings.Join(slices.DeleteFunc(strings.Split(good, "\r\n"), func(l string) bool {
		return strings.HasPrefix(l, "a=ice-") || strings.HasPrefix(l, "a=fingerprint") || strings.HasPrefix(l, "a=candidate")
	}), "\r\n")
	expired := token.Sign(token.Grant{Room: "3500", Name: "late"}, tokenSecret, time.Now().Add(-time.Minute))
	other := token.Sign(token.Grant{Room: "3600", Name: "elsewhere"}, tokenSecret, time.Now().Add(time.Hour))
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	ignore := goleak.IgnoreCurrent()
	sockets := openUDPSockets(t)
	for _, tc := range []struct {
		name, path, bearer, ctype, body string
		want                            int
	}{
		{"malformed offer", "/whip/3500", streamKey, "application/sdp", "garbage", http.StatusBadRequest},
		{"no usable codec", "/whip/3500", streamKey, "application/sdp", pcmuOnly, http.StatusUnprocessableEntity},
		{"an offer pion cannot answer", "/whip/3500", streamKey, "application/sdp", noICE, http.StatusUnprocessableEntity},
		{"a viewer's offer to publish", "/whip/3500", streamKey, "application/sdp", watch, http.StatusUnprocessableEntity},
		{"unknown room", "/whip/9999", streamKey, "application/sdp", good, http.StatusNotFound},
		{"no token", "/whip/3500", "", "application/sdp", good, http.StatusUnauthorized},
		{"wrong key", "/whip/3500", "guess", "application/sdp", good, http.StatusUnauthorized},
		{"expired token", "/whip/3500", expired, "application/sdp", good, http.StatusUnauthorized},
		{"token for another room", "/whip/3500", other, "application/sdp", good, http.StatusForbidden},
		{"a room that forbids watching", "/whep/3600", other, "application/sdp", watch, http.StatusForbidden},
		{"wrong content type", "/whip/3500", streamKey, "text/plain", good, http.StatusUnsupportedMediaType},
		{"too large", "/whip/3500", streamKey, "application/sdp", strings.Repeat("a", 70<<10), http.StatusRequestEntityTooLarge},
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.httpURL(tc.path), strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ctype)
		if tc.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+tc.bearer)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var body struct{ Error, Message string }
		jerr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || jerr != nil || body.Message == "" {
			t.Errorf("%s: %d %+v (%v), want %d with a reason", tc.name, resp.StatusCode, body, jerr, tc.want)
		}
	}

	// One session per address: the second is refused, the first lives.
	pub, sess, err := vertotest.Publish(ctx, a.httpURL("/whip/3500"), streamKey, vertotest.CallOptions{SSRC: 5})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = vertotest.Watch(ctx, a.httpURL("/whep/3500"), "", vertotest.CallOptions{})
	var herr *vertotest.HTTPError
	if !errors.As(err, &herr) || herr.Status != http.StatusTooManyRequests {
		t.Errorf("a second session from one address: %v, want 429", err)
	}
	if status, err := sess.Delete(ctx); status != http.StatusOK || err != nil {
		t.Fatalf("DELETE: %d %v", status, err)
	}
	pub.Close()

	r, _ := a.rooms.Lookup("3500")
	if err := vertotest.WaitFor(ctx, func() bool {
		p, v := a.whip.Sessions()
		return len(r.Members()) == 0 && r.Viewers() == 0 && p+v == 0 && openUDPSockets(t) <= sockets
	}); err != nil {
		p, v := a.whip.Sessions()
		t.Errorf("left behind: %d members, %d viewers, %d sessions, %d UDP sockets (from %d)", len(r.Members()), r.Viewers(), p+v, openUDPSockets(t), sockets)
	}
	hc.CloseIdleConnections()
	// What the HTTP requests themselves leave (connections closing) is not
	// the endpoints': the peers' goroutines are what must be gone.
	goleak.VerifyNone(t, ignore, goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"))
}

// openUDPSockets counts the process's open UDP sockets: its socket
// descriptors whose inodes the kernel's UDP tables list.
func openUDPSockets(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"/proc/self/net/udp", "/proc/self/net/udp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 9 && mine[f[9]] {
				n++
			}
		}
	}
	return n
}

// TestWHIPPatch: PATCH trickles a candidate (204), is refused for a stale
// ETag (412) or a malformed fragment (400), and restarts ICE with new
// credentials (200, a new ETag); the broadcast still reaches the room.
func TestWHIPPatch(t *testing.T) {
	a := startTestApp(t, withWHIP)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	vc, viewer, err := vertotest.Join(ctx, a.vertoURL(), "viewer", "guest", vertotest.CallOptions{Dest: "3500", Name: "viewer", Slots: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { viewer.Close(); _ = vc.Close() })
	pub, sess, err := vertotest.Publish(ctx, a.httpURL("/whip/3500"), streamKey, vertotest.CallOptions{SSRC: 4444, ToneHz: 660})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pub.Close)
	if err := viewer.WaitSources(ctx, 4444); err != nil {
		t.Fatal(err)
	}
	cand := "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n"
	if status, _, body, _ := sess.Patch(ctx, cand, sess.ETag); status != http.StatusNoContent {
		t.Errorf("trickle: %d %s, want 204", status, body)
	}
	if status, _, _, _ := sess.Patch(ctx, cand, `"stale"`); status != http.StatusPreconditionFailed {
		t.Errorf("trickle with a stale ETag: %d, want 412", status)
	}
	if status, _, _, _ := sess.Patch(ctx, "a=ice-ufrag:only\r\n", "*"); status != http.StatusBadRequest {
		t.Errorf("a ufrag without a pwd: %d, want 400", status)
	}
	etag := sess.ETag
	ufragOf := func(sdp string) string {
		_, rest, _ := strings.Cut(sdp, "a=ice-ufrag:")
		u, _, _ := strings.Cut(rest, "\r\n")
		return u
	}
	before := ufragOf(pub.PC().RemoteDescription().SDP)
	if err := sess.RestartICE(ctx, pub); err != nil {
		t.Fatalf("ICE restart: %v", err)
	}
	if sess.ETag == "" || sess.ETag == etag {
		t.Errorf("the restart kept the ETag %s", etag)
	}
	if after := ufragOf(pub.PC().RemoteDescription().SDP); after == "" || after == before {
		t.Errorf("confd's ICE credentials after the restart: %q, before %q", after, before)
	}
	slot := viewer.Stream(viewer.Slots().Slots[0].MID)
	seen := len(slot.Packets())
	if err := vertotest.WaitFor(ctx, func() bool { return len(slot.Packets()) > seen+100 }); err != nil {
		t.Error("the broadcast stopped after the ICE restart")
	}

	// A moderator removes the broadcaster like anyone: its session ends.
	r, _ := a.rooms.Lookup("3500")
	for _, m := range r.Members() {
		if m.Info.Kind == room.KindStream {
			if err := r.Kick(m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := vertotest.WaitFor(ctx, func() bool { p, _ := a.whip.Sessions(); return p == 0 && len(r.Members()) == 1 }); err != nil {
		t.Fatal("the kicked broadcaster's session lives on")
	}
	if status, _ := sess.Delete(ctx); status != http.StatusNotFound {
		t.Errorf("DELETE after the kick: %d, want 404", status)
	}
}
