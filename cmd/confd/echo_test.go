package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
	"github.com/confd/confd/signalling/vertotest"
)

// TestEchoTest: two pion members call 9196 at once. Each hears its own
// tone back and not the other's, and its slot shows its own camera.
func TestEchoTest(t *testing.T) {
	a := startTestApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	calls := map[float64]*vertotest.Call{}
	for i, hz := range []float64{440, 880} {
		ssrc := uint32(0x1000 + i)
		c, call, err := vertotest.Join(ctx, a.vertoURL(), "guest", "guest",
			vertotest.CallOptions{Dest: "9196", Name: "tester", ToneHz: hz, Slots: 1, Publish: true, SSRC: ssrc})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { call.Close(); _ = c.Close() })
		calls[hz] = call
		if err := call.WaitSources(ctx, ssrc); err != nil {
			t.Fatalf("%v Hz's caller never saw its own camera: %v", hz, err)
		}
	}
	for hz, call := range calls {
		if err := vertotest.WaitFor(ctx, func() bool {
			pcm, _ := call.Heard()
			return len(pcm) >= 9600 && vertotest.ToneLevel(pcm[len(pcm)-9600:], hz) > presentDB
		}); err != nil {
			t.Fatalf("the %v Hz caller never heard itself", hz)
		}
	}
	for hz, call := range calls {
		checkEchoedCamera(ctx, t, hz, call)
	}
	listen(ctx, t, calls[440], calls[880])
	hears(t, "440 Hz caller", calls[440], 440, true)
	hears(t, "440 Hz caller", calls[440], 880, false)
	hears(t, "880 Hz caller", calls[880], 880, true)
	hears(t, "880 Hz caller", calls[880], 440, false)
}

// checkEchoedCamera: the caller's own camera comes back as late as its
// voice, every frame at least room.EchoDelay after it was sent (less a
// little for the clocks of a sender's tick and a receiver's read: load can
// only add to the delay, never take from it).
func checkEchoedCamera(ctx context.Context, t *testing.T, hz float64, call *vertotest.Call) {
	t.Helper()
	own := func() []vertotest.Packet {
		var out []vertotest.Packet
		for _, s := range call.Streams() {
			for _, p := range s.Packets() {
				if p.Source != 0 {
					out = append(out, p)
				}
			}
		}
		return out
	}
	if err := vertotest.WaitFor(ctx, func() bool { return len(own()) >= 30 }); err != nil {
		t.Fatalf("the %v Hz caller saw fewer than 30 frames of its own camera", hz)
	}
	least := time.Hour
	for _, p := range own() {
		sent, ok := call.SentAt(p.Frame)
		if !ok {
			t.Fatalf("the %v Hz caller got frame %d, never sent", hz, p.Frame)
		}
		least = min(least, p.Arrival.Sub(sent))
	}
	t.Logf("%v Hz caller: its camera came back %v late at the least", hz, least)
	if least < room.EchoDelay-50*time.Millisecond {
		t.Errorf("the %v Hz caller saw its camera %v after it sent it, want about %v as its voice", hz, least, room.EchoDelay)
	}
}

// TestEchoTestByPhone: a phone that dials 9196 hears its own tone back.
func TestEchoTestByPhone(t *testing.T) {
	a := startSIPApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	phone, err := dialintest.Dial(ctx, a.sipAddr(t, "udp"), dialintest.Options{Dest: "9196", ToneHz: 660})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(phone.Close)
	waitPhone(ctx, t, "its own 660 Hz", phone, func(pcm []int16) bool { return dialintest.ToneLevel(pcm, 660) > presentDB })
}

// TestEchoNumberIsTaken: the API refuses the echo test's number for a new
// room, and lists the echo test among the rooms.
func TestEchoNumberIsTaken(t *testing.T) {
	a := startTestApp(t, withAPI)
	api := newAPIClient(t, a)
	api.expect(http.StatusConflict, http.MethodPost, "/rooms", map[string]any{"number": "9196"}, nil)
	api.expect(http.StatusConflict, http.MethodPost, "/rooms", map[string]any{"number": "4000", "name": "Echo test"}, nil)
	if r := api.room("9196"); r.Name != "Echo test" {
		t.Fatalf("the echo test is listed as %+v", r)
	}
}
