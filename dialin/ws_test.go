package dialin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/peer"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// wsHarness is a dialin.Server taking SIP over WebSocket from an HTTP
// server on loopback, as confd's web listeners hand it over.
type wsHarness struct {
	*harness
	url string
}

func newWSHarness(t *testing.T, mutate func(*dialin.Config)) *wsHarness {
	t.Helper()
	return newWSHarnessWith(t, mutate, nil)
}

func newWSHarnessWith(t *testing.T, mutate func(*dialin.Config), setup func(*dialin.Server)) *wsHarness {
	t.Helper()
	media, err := peer.NewMedia(peer.MediaConfig{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(media.Close)
	h := newHarnessWith(t, []room.Config{{Number: "3500", Name: "Main"}, {Number: "3600", PIN: "1234"}}, func(c *dialin.Config) {
		c.Users = []dialin.User{{Login: "1000", Password: "1234", Name: "Account 1000"}, {Login: "2000", Password: "4321", Role: room.RoleModerator}}
		c.InviteRate, c.InviteBurst = 1000, 1000
		c.WebSocket.Media = media
		if mutate != nil {
			mutate(c)
		}
	}, setup)
	web := httptest.NewServer(http.HandlerFunc(h.srv.ServeWebSocket))
	t.Cleanup(web.Close)
	return &wsHarness{harness: h, url: "ws" + strings.TrimPrefix(web.URL, "http")}
}

// dial opens a SIP websocket to the harness. gorilla fragments what does
// not fit its write buffer: at 1 KB, a REGISTER goes in one frame and an
// INVITE with its offer in several, which confd reassembles (wsframe.go).
func (h *wsHarness) dial(t *testing.T, hdr http.Header) *dialintest.WSPhone {
	t.Helper()
	return dialintest.DialWS(t, h.url, hdr, 1024)
}

// TestWebSocketRegister: REGISTER over a websocket is challenged, then
// 200 with the binding for as long as asked; a wrong password is 403
// after the challenge, a lifetime under the minimum 423; an account
// registers its own address only; the websocket stays up throughout.
func TestWebSocketRegister(t *testing.T) {
	h := newWSHarness(t, nil)
	p := h.dial(t, nil)
	const uri = "sip:confd"
	reg := func(login string, extra ...string) *sip.Response {
		p.Send("REGISTER", "sip:"+login+"@confd", "", append([]string{"Expires: 120"}, extra...), "")
		return p.Final()
	}
	res := reg("1000")
	if res.StatusCode != 401 {
		t.Fatalf("unauthenticated REGISTER: %d, want 401", res.StatusCode)
	}
	if got := reg("1000", dialintest.Authorize(t, res, "REGISTER", uri, "1000", "wrong")); got.StatusCode != 403 {
		t.Fatalf("wrong password: %d, want 403", got.StatusCode)
	}
	res = reg("1000")
	ok := reg("1000", dialintest.Authorize(t, res, "REGISTER", uri, "1000", "1234"))
	if ok.StatusCode != 200 {
		t.Fatalf("REGISTER: %d, want 200", ok.StatusCode)
	}
	if c := ok.GetHeader("Contact"); c == nil || !strings.Contains(c.Value(), "expires=120") {
		t.Fatalf("200 Contact %v, want the binding with expires=120", c)
	}
	if b := h.srv.Registered("1000"); len(b) != 1 {
		t.Fatalf("bindings %v, want one", b)
	}
	res = reg("2000")
	if got := reg("2000", dialintest.Authorize(t, res, "REGISTER", uri, "1000", "1234")); got.StatusCode != 403 {
		t.Fatalf("1000 registering 2000: %d, want 403", got.StatusCode)
	}
	res = reg("1000")
	if got := reg("1000", dialintest.Authorize(t, res, "REGISTER", uri, "1000", "1234"), "Contact: <sip:x@y.invalid;transport=ws>;expires=5"); got.StatusCode != 423 || got.GetHeader("Min-Expires") == nil {
		t.Fatalf("expires=5: %d, want 423 with Min-Expires", got.StatusCode)
	}
	res = reg("1000")
	p.Send("REGISTER", "sip:1000@confd", "", []string{"Expires: 0", dialintest.Authorize(t, res, "REGISTER", uri, "1000", "1234")}, "")
	if got := p.Final(); got.StatusCode != 200 || len(h.srv.Registered("1000")) != 0 {
		t.Fatalf("unregister: %d, bindings %v", got.StatusCode, h.srv.Registered("1000"))
	}
	p.Alive()
}

// TestWebSocketRefusals: what a browser gets wrong is answered and the
// websocket lives on: a message that is not SIP is dropped, a malformed
// request gets 400, an unknown room 404, an offer that is no WebRTC 488,
// a wrong password on INVITE 403 after the challenge; a page from another
// origin cannot open the websocket.
func TestWebSocketRefusals(t *testing.T) {
	h := newWSHarness(t, func(c *dialin.Config) { c.AllowGuests = true })
	p := h.dial(t, nil)

	p.Raw("hello, this is not SIP")
	p.Alive() // the next message is OPTIONS' 200: nothing came for the garbage

	p.Raw("OPTIONS sip:confd SIP/2.0\r\nVia: SIP/2.0/WSS x.invalid;branch=z9hG4bKbad1\r\nTo: <sip:confd>\r\n" +
		"From: <sip:a@confd>;tag=1\r\nCall-ID: bad1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 12\r\n\r\n")
	if res := p.Final(); res.StatusCode != 400 {
		t.Fatalf("a body shorter than its Content-Length: %d, want 400", res.StatusCode)
	}
	p.Alive()

	offer := webrtcOffer(t, true)
	p.Send("INVITE", "sip:9999@confd", "", nil, offer)
	if res := p.Final(); res.StatusCode != 404 {
		t.Fatalf("unknown room: %d, want 404", res.StatusCode)
	}
	p.Send("ACK", "sip:9999@confd", "", nil, "")
	p.CallID = dialintest.Token()
	p.Send("INVITE", "sip:3500@confd", "", nil, "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	if res := p.Final(); res.StatusCode != 488 {
		t.Fatalf("plain RTP offer: %d, want 488", res.StatusCode)
	}
	p.Send("ACK", "sip:3500@confd", "", nil, "")
	p.CallID = dialintest.Token()
	p.Send("INVITE", "sip:3500@confd", "", nil, "this is no SDP")
	if res := p.Final(); res.StatusCode != 488 {
		t.Fatalf("garbage SDP: %d, want 488", res.StatusCode)
	}
	p.Send("ACK", "sip:3500@confd", "", nil, "")
	p.Alive()

	// An account's login must authenticate, even where guests may call.
	p.CallID = dialintest.Token()
	p.Send("INVITE", "sip:3500@confd", "", []string{"Authorization: Digest username=\"1000\", realm=\"confd\", nonce=\"x\", uri=\"sip:3500@confd\", response=\"0\""}, offer)
	res := p.Final()
	if res.StatusCode != 401 {
		t.Fatalf("a stale nonce: %d, want 401", res.StatusCode)
	}
	p.Send("ACK", "sip:3500@confd", "", nil, "")
	p.CallID = dialintest.Token()
	p.Send("INVITE", "sip:3500@confd", "", []string{dialintest.Authorize(t, res, "INVITE", "sip:3500@confd", "1000", "nope")}, offer)
	if res := p.Final(); res.StatusCode != 403 {
		t.Fatalf("wrong password: %d, want 403", res.StatusCode)
	}
	p.Send("ACK", "sip:3500@confd", "", nil, "")
	p.Alive()

	d := websocket.Dialer{Subprotocols: []string{"sip"}}
	if _, res, err := d.Dial(h.url, http.Header{"Origin": {"https://evil.example"}}); err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v, want 403", res, err)
	}
}

// webrtcOffer is a loopback pion client's complete offer: audio (and
// video) to send and receive.
func webrtcOffer(t *testing.T, video bool) string {
	t.Helper()
	pc, _ := newClientPC(t, video)
	return pc.LocalDescription().SDP
}

func newClientPC(t *testing.T, video bool) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticSample) {
	t.Helper()
	pc, err := vertotest.NewPeerConnection()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	mic, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "mic")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(mic); err != nil {
		t.Fatal(err)
	}
	if video {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	return pc, mic
}

func wsRow(t *testing.T, h *wsHarness, number string, cond func(room.Row) bool) room.Row {
	t.Helper()
	r, err := h.rooms.Lookup(number)
	if err != nil {
		t.Fatal(err)
	}
	var found room.Row
	err = vertotest.WaitFor(doneIn(30*time.Second), func() bool {
		ok := false
		r.Snapshot(func(rows []room.Row) {
			for _, row := range rows {
				if cond(row) {
					found, ok = row, true
				}
			}
		})
		return ok
	})
	if err != nil {
		t.Fatalf("room %s: no such row", number)
	}
	return found
}

func doneIn(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	_ = cancel // the deadline ends it
	return ctx
}

// TestWebSocketCall: a browser's INVITE over a websocket, a WebRTC offer,
// is answered by a peer: the caller is a browser member under its display
// name, the PeerConnection connects, SIP INFO *6 mutes it, a re-INVITE
// with a sendonly offer holds it and an UPDATE unholds it; its BYE ends
// the membership. A second call is hung up by the room (a kick): the
// browser gets confd's BYE.
func TestWebSocketCall(t *testing.T) {
	h := newWSHarness(t, nil)
	p := h.dial(t, nil)
	uri := "sip:3500@confd"
	pc, _ := newClientPC(t, true)
	offer := pc.LocalDescription().SDP
	p.Send("INVITE", uri, "", nil, offer)
	res := p.Final()
	if res.StatusCode != 401 {
		t.Fatalf("INVITE: %d, want 401", res.StatusCode)
	}
	p.Send("ACK", uri, "", nil, "")
	p.Send("INVITE", uri, "", []string{dialintest.Authorize(t, res, "INVITE", uri, "1000", "1234")}, offer)
	res = p.Final()
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d, want 200", res.StatusCode)
	}
	toTag, _ := res.To().Params.Get("tag")
	p.Send("ACK", uri, toTag, nil, "")
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(res.Body())}); err != nil {
		t.Fatal(err)
	}
	if err := vertotest.WaitFor(doneIn(30*time.Second), func() bool { return pc.ConnectionState() == webrtc.PeerConnectionStateConnected }); err != nil {
		t.Fatalf("PeerConnection %v, want connected", pc.ConnectionState())
	}
	row := wsRow(t, h, "3500", func(r room.Row) bool { return r.Name == "Alice Web" })
	if row.Kind != room.KindBrowser || row.Muted {
		t.Fatalf("row %+v, want an unmuted browser", row)
	}

	p.Info(uri, toTag, "")
	if res := p.Final(); res.StatusCode != 415 {
		t.Fatalf("INFO without a key: %d, want 415", res.StatusCode)
	}
	for _, d := range []string{"*", "6"} {
		p.Info(uri, toTag, "Signal="+d+"\r\nDuration=160\r\n")
		if res := p.Final(); res.StatusCode != 200 {
			t.Fatalf("INFO %s: %d", d, res.StatusCode)
		}
	}
	wsRow(t, h, "3500", func(r room.Row) bool { return r.Name == "Alice Web" && r.Muted })

	// Hold: a re-INVITE whose audio is sendonly; unhold by UPDATE with
	// the first offer again.
	reoffer := func(method, sdp string) {
		p.Send(method, uri, toTag, nil, sdp)
		res := p.Final()
		if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "m=audio") {
			t.Fatalf("%s: %d %q, want 200 with an answer", method, res.StatusCode, res.Body())
		}
		if method == "INVITE" {
			p.Send("ACK", uri, toTag, nil, "")
		}
	}
	audio, rest, _ := strings.Cut(offer, "m=video")
	reoffer("INVITE", strings.Replace(audio, "a=sendrecv", "a=sendonly", 1)+"m=video"+rest)
	wsRow(t, h, "3500", func(r room.Row) bool { return r.Name == "Alice Web" && r.Held })
	reoffer("UPDATE", offer)
	wsRow(t, h, "3500", func(r room.Row) bool { return r.Name == "Alice Web" && !r.Held })

	p.Send("BYE", uri, toTag, nil, "")
	if res := p.Final(); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
	r, _ := h.rooms.Lookup("3500")
	if err := vertotest.WaitFor(doneIn(30*time.Second), func() bool { return len(r.Members()) == 0 }); err != nil {
		t.Fatalf("members %v after BYE, want none", r.Members())
	}

	// The room hangs up: a moderator's kick reaches the browser as BYE.
	p.CallID, p.Tag = dialintest.Token(), dialintest.Token()
	pc2, _ := newClientPC(t, false)
	p.Send("INVITE", uri, "", nil, pc2.LocalDescription().SDP)
	res = p.Final()
	p.Send("ACK", uri, "", nil, "")
	p.Send("INVITE", uri, "", []string{dialintest.Authorize(t, res, "INVITE", uri, "1000", "1234")}, pc2.LocalDescription().SDP)
	if res = p.Final(); res.StatusCode != 200 {
		t.Fatalf("second INVITE: %d", res.StatusCode)
	}
	if strings.Contains(string(res.Body()), "m=video") {
		t.Fatalf("an audio-only offer got video in the answer")
	}
	toTag, _ = res.To().Params.Get("tag")
	p.Send("ACK", uri, toTag, nil, "")
	row = wsRow(t, h, "3500", func(r room.Row) bool { return r.Name == "Alice Web" })
	if _, err := r.Operate("test", room.Command{Name: "kick", Target: row.ID}); err != nil {
		t.Fatal(err)
	}
	bye := p.Request()
	if bye.Method != sip.BYE {
		t.Fatalf("confd sent %s, want BYE", bye.Method)
	}
	p.Raw(sip.NewResponseFromRequest(bye, 200, "OK", nil).String())
	if err := vertotest.WaitFor(doneIn(30*time.Second), func() bool { return h.srv.Calls() == 0 }); err != nil {
		t.Fatalf("%d calls left after the kick", h.srv.Calls())
	}
}

// TestWebSocketPIN: a browser calling a room with a PIN is answered and
// joins only once its keys give the PIN: a wrong one keeps it out, the
// right one, ended by '#', brings it in.
func TestWebSocketPIN(t *testing.T) {
	h := newWSHarness(t, nil)
	p := h.dial(t, nil)
	uri := "sip:3600@confd"
	pc, _ := newClientPC(t, false)
	offer := pc.LocalDescription().SDP
	p.Send("INVITE", uri, "", nil, offer)
	res := p.Final()
	p.Send("ACK", uri, "", nil, "")
	p.Send("INVITE", uri, "", []string{dialintest.Authorize(t, res, "INVITE", uri, "1000", "1234")}, offer)
	if res = p.Final(); res.StatusCode != 200 {
		t.Fatalf("INVITE: %d, want 200", res.StatusCode)
	}
	toTag, _ := res.To().Params.Get("tag")
	p.Send("ACK", uri, toTag, nil, "")
	r, _ := h.rooms.Lookup("3600")
	keys := func(ks string) {
		for _, k := range ks {
			p.Info(uri, toTag, "Signal="+string(k)+"\r\nDuration=160\r\n")
			if res := p.Final(); res.StatusCode != 200 {
				t.Fatalf("INFO %c: %d", k, res.StatusCode)
			}
		}
	}
	keys("99#")
	keys("*") // an OPTIONS round trip later the wrong PIN has been judged
	p.Alive()
	if n := len(r.Members()); n != 0 {
		t.Fatalf("%d members after a wrong PIN, want none", n)
	}
	keys("1234#")
	wsRow(t, h, "3600", func(row room.Row) bool { return row.Name == "Alice Web" })
	p.Send("BYE", uri, toTag, nil, "")
	if res := p.Final(); res.StatusCode != 200 {
		t.Fatalf("BYE: %d", res.StatusCode)
	}
}

// TestWebSocketCancel: a CANCEL while confd answers ends the call: 487,
// and nothing of it stays (when the answer wins the race, the 200 is
// followed by a BYE, and nothing stays either).
func TestWebSocketCancel(t *testing.T) {
	h := newWSHarness(t, func(c *dialin.Config) { c.AllowGuests = true })
	p := h.dial(t, nil)
	uri := "sip:3500@confd"
	p.CallID, p.Tag = dialintest.Token(), "cancel"
	pc, _ := newClientPC(t, true)
	// The INVITE and its CANCEL share the branch (RFC 3261 §9.1).
	invite := fmt.Sprintf("INVITE %[1]s SIP/2.0\r\nVia: SIP/2.0/WSS x.invalid;branch=z9hG4bKcancel1\r\nMax-Forwards: 70\r\n"+
		"To: <%[1]s>\r\nFrom: \"Guest\" <sip:guest@confd>;tag=cancel\r\nCall-ID: %[2]s\r\nCSeq: 1 INVITE\r\n"+
		"Contact: <sip:guest@x.invalid;transport=ws>\r\nContent-Type: application/sdp\r\nContent-Length: %[3]d\r\n\r\n%[4]s",
		uri, p.CallID, len(pc.LocalDescription().SDP), pc.LocalDescription().SDP)
	cancel := fmt.Sprintf("CANCEL %[1]s SIP/2.0\r\nVia: SIP/2.0/WSS x.invalid;branch=z9hG4bKcancel1\r\nMax-Forwards: 70\r\n"+
		"To: <%[1]s>\r\nFrom: \"Guest\" <sip:guest@confd>;tag=cancel\r\nCall-ID: %[2]s\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n", uri, p.CallID)
	p.Raw(invite)
	// CANCEL once the INVITE is pending: after its 100 Trying, while the
	// peer gathers ICE.
	var inviteRes *sip.Response
	for {
		m := p.Next()
		if res, ok := m.(*sip.Response); ok && res.StatusCode == 100 {
			break
		} else if ok && res.StatusCode >= 200 {
			inviteRes = res
			break
		}
	}
	if inviteRes == nil {
		p.Raw(cancel)
	}
	for inviteRes == nil {
		res := p.Final()
		if res.CSeq().MethodName == sip.INVITE {
			inviteRes = res
		}
	}
	switch inviteRes.StatusCode {
	case 487:
		p.Raw(strings.Replace(strings.Replace(cancel, "CANCEL "+uri, "ACK "+uri, 1), "1 CANCEL", "1 ACK", 1))
	case 200:
		t.Log("the answer came before the CANCEL")
		toTag, _ := inviteRes.To().Params.Get("tag")
		p.CSeq = 1
		p.Send("ACK", uri, toTag, nil, "")
		p.Send("BYE", uri, toTag, nil, "")
	default:
		t.Fatalf("INVITE then CANCEL: %d, want 487 (or 200)", inviteRes.StatusCode)
	}
	r, _ := h.rooms.Lookup("3500")
	if err := vertotest.WaitFor(doneIn(30*time.Second), func() bool { return h.srv.Calls() == 0 && len(r.Members()) == 0 }); err != nil {
		t.Fatalf("%d calls and %d members left after the CANCEL", h.srv.Calls(), len(r.Members()))
	}
	p.Alive()
}

// TestWebSocketIdle: a websocket that carries no call or registration and
// sends nothing for the idle timeout is closed.
func TestWebSocketIdle(t *testing.T) {
	h := newWSHarness(t, func(c *dialin.Config) { c.Limits.IdleTimeout = 200 * time.Millisecond })
	p := h.dial(t, nil)
	if !p.Closes(30 * time.Second) {
		t.Fatal("an idle websocket stayed open")
	}
}
