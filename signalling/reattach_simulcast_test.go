package signalling

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/forwarder"
	"github.com/confd/confd/signalling/vertotest"
)

// simBase marks the frames of the simulcast publisher's layer q; h and f
// are simBase+1 and simBase+2.
const simBase = 7000

// TestReattachSimulcast: a member publishing three simulcast encodings
// (q, h, f) loses its websocket and logs in again with the same sessid.
// confd's verto.attach offer asks to receive the camera as the same three
// rids, the client answers with three encodings, the member's camera is a
// Receiver with three layers again, and a viewer with a large slot gets f
// again, from a key frame, on a slot that stays one stream.
func TestReattachSimulcast(t *testing.T) {
	if testing.Short() {
		t.Skip("real pion peers; skipped with -short")
	}
	env := startServer(t, func(c *Config) { c.AllowGuests = true })
	ctx := testCtx(t, 90*time.Second)
	c, call, err := vertotest.Join(ctx, env.url, "pub@"+testDomain, "pw",
		vertotest.CallOptions{Dest: "3500", Name: "pub", Slots: 1, Publish: true, Simulcast: true, SSRC: simBase})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Cleanup(call.Close)
	pub := &vmember{name: "pub", login: "pub@" + testDomain, client: c, call: call}
	viewer := joinViewer(ctx, t, env, "viewer")
	if err := viewer.call.SetSlotSize(ctx, 0, 1280, 720); err != nil {
		t.Fatal(err)
	}
	var stream *vertotest.Stream
	waitUntil(ctx, t, "the viewer's slot stream", func() bool { stream = slot0(viewer.call); return stream != nil })
	waitUntil(ctx, t, "the large slot shows f", func() bool { return stream.CurrentSource() == simBase+2 })
	old := cameraOf(t, env.srv, pub.call.ID)
	waitUntil(ctx, t, "pub's camera has three layers", func() bool { return ridsOf(old) == "q h f" })

	// The second round reattaches a call whose last PeerConnection was
	// the first reattach's: its rids come from the client's attach answer.
	for round := 1; round <= 2; round++ {
		old = reattachSimulcast(ctx, t, env, pub, stream, old)
		t.Logf("round %d: reattached with layers %s", round, ridsOf(old))
	}
	if err := pub.call.Hangup(ctx); err != nil {
		t.Fatalf("hangup after reattach: %v", err)
	}
}

// TestReattachOfferSimulcastLines: the rids a client sent its camera with
// become the receive rids of the camera section of confd's next offer;
// the other sections, and offers for cameras without simulcast, stay as
// they were.
func TestReattachOfferSimulcastLines(t *testing.T) {
	answer := strings.Join([]string{
		"v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendrecv", "a=rtpmap:111 opus/48000/2",
		"m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:1", "a=sendrecv", "a=rtpmap:96 VP8/90000",
		"a=rid:lo send", "a=rid:mid send", "a=rid:hi send", "a=simulcast:send lo;mid;~hi",
		"",
	}, "\r\n")
	rids := sendRIDs(answer)
	if strings.Join(rids, " ") != "lo mid hi" {
		t.Fatalf("sendRIDs = %q, want lo mid hi", rids)
	}
	if got := sendRIDs(strings.ReplaceAll(answer, " send", " recv")); got != nil {
		t.Errorf("receive rids taken for send rids: %q", got)
	}

	offer := strings.Join([]string{
		"v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=rtpmap:111 opus/48000/2", "a=sendrecv",
		"m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:1", "a=rtpmap:96 VP8/90000", "a=sendrecv", "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host",
		"m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:2", "a=rtpmap:96 VP8/90000", "a=sendonly",
		"",
	}, "\r\n")
	got, err := withRecvSimulcast(offer, rids)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(offer, "a=mid:1\r\na=rtpmap:96 VP8/90000\r\n",
		"a=mid:1\r\na=rtpmap:96 VP8/90000\r\na=rid:lo recv\r\na=rid:mid recv\r\na=rid:hi recv\r\na=simulcast:recv lo;mid;hi\r\n", 1)
	if got != want {
		t.Errorf("offer with simulcast:\n%s\nwant:\n%s", got, want)
	}
	if got, err := withRecvSimulcast(offer, nil); err != nil || got != offer {
		t.Errorf("offer without simulcast changed (%v):\n%s", err, got)
	}
}

// TestCameraRIDsOutliveAnUnansweredAttach: a PeerConnection whose attach
// offer was never answered has no remote description; the next offer
// still asks for the rids the client last answered with.
func TestCameraRIDsOutliveAnUnansweredAttach(t *testing.T) {
	answered, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer answered.Close()
	offerer, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer offerer.Close()
	if _, err := offerer.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{
		Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	// The client's camera section with three send rids, as a browser's.
	offer.SDP = strings.Replace(offer.SDP, "a=sendonly\r\n",
		"a=sendonly\r\na=rid:q send\r\na=rid:h send\r\na=rid:f send\r\na=simulcast:send q;h;f\r\n", 1)
	if err := answered.SetRemoteDescription(offer); err != nil {
		t.Fatal(err)
	}
	var c Call
	c.sim.pc = answered
	if got := strings.Join(c.cameraRIDs(), " "); got != "q h f" {
		t.Fatalf("rids of the answered PeerConnection: %q", got)
	}
	unanswered, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer unanswered.Close()
	c.sim.pc = unanswered
	if got := strings.Join(c.cameraRIDs(), " "); got != "q h f" {
		t.Errorf("rids after an unanswered attach: %q, want q h f", got)
	}
}

// reattachSimulcast drops pub's socket and reattaches its call; the
// attach offer asks for the camera's rids, pub publishes a new camera with
// three layers (returned), and the viewer's large slot (stream) shows f
// again, still one stream.
func reattachSimulcast(ctx context.Context, t *testing.T, env *testEnv, pub *vmember, stream *vertotest.Stream, old *forwarder.Receiver) *forwarder.Receiver {
	t.Helper()
	_ = pub.client.Close()
	_, attach, ready := reconnect(ctx, t, env, pub, "pw")
	var a struct{ SDP string }
	if err := json.Unmarshal(attach.Params, &a); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"a=rid:q recv", "a=rid:h recv", "a=rid:f recv", "a=simulcast:recv q;h;f"} {
		if !strings.Contains(a.SDP, line+"\r\n") {
			t.Errorf("the attach offer lacks %q:\n%s", line, a.SDP)
		}
	}
	from := len(stream.Packets())
	checkAttach(ctx, t, pub, attach, ready)

	var cam *forwarder.Receiver
	waitUntil(ctx, t, "pub's new camera has three layers", func() bool {
		cam = cameraOf(t, env.srv, pub.call.ID)
		return cam != nil && cam != old && ridsOf(cam) == "q h f"
	})
	waitUntil(ctx, t, "the large slot shows f again", func() bool {
		return slices.Contains(stream.SourcesSince(from), simBase+2) && stream.CurrentSource() == simBase+2
	})
	if _, err := stream.Check(); err != nil {
		t.Errorf("the viewer's slot across the reattach: %v", err)
	}
	return cam
}

// joinViewer joins 3500 as a guest receiving on one slot and publishing
// nothing.
func joinViewer(ctx context.Context, t *testing.T, env *testEnv, name string) *vmember {
	t.Helper()
	c, call, err := vertotest.Join(ctx, env.url, name+"@"+testDomain, "pw", vertotest.CallOptions{Dest: "3500", Name: name, Slots: 1})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Cleanup(call.Close)
	return &vmember{name: name, login: name + "@" + testDomain, client: c, call: call}
}

// cameraOf is the camera the call with callID publishes now, or nil.
func cameraOf(t *testing.T, srv *Server, callID string) *forwarder.Receiver {
	t.Helper()
	srv.mu.Lock()
	var call *Call
	for c := range srv.calls {
		if c.id == callID {
			call = c
		}
	}
	srv.mu.Unlock()
	if call == nil {
		t.Fatalf("no call %s", callID)
	}
	call.mu.Lock()
	defer call.mu.Unlock()
	return call.camera
}

// ridsOf lists the rids of recv's layers, smallest first.
func ridsOf(recv *forwarder.Receiver) string {
	if recv == nil {
		return ""
	}
	var rids []string
	for _, l := range recv.Layers() {
		rids = append(rids, l.RID)
	}
	return strings.Join(rids, " ")
}
