package signalling

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

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
	return call.peer.Camera()
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
