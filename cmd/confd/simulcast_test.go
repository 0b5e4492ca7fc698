package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/confd/confd/signalling/vertotest"
)

// simMarker is the frame marker SSRC of the simulcast publisher's layer q;
// h and f are +1 and +2.
const simMarker = 7000

// viewer joins 3500 receiving on one slot and publishing nothing.
func viewer(ctx context.Context, t *testing.T, a *app, name string, throttle *vertotest.Throttle) *member {
	t.Helper()
	c, call, err := vertotest.Join(ctx, a.vertoURL(), name+"@localhost", "guest",
		vertotest.CallOptions{Dest: "3500", Name: name, Slots: 1, Throttle: throttle})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Cleanup(call.Close)
	return &member{name: name, client: c, call: call}
}

// slotStream is m's first slot's stream, once it exists.
func slotStream(ctx context.Context, t *testing.T, m *member) *vertotest.Stream {
	t.Helper()
	var s *vertotest.Stream
	err := vertotest.WaitFor(ctx, func() bool {
		if sl := m.call.Slots().Slots; len(sl) > 0 {
			s = m.call.Stream(sl[0].MID)
		}
		return s != nil
	})
	if err != nil {
		t.Fatalf("%s has no slot stream: %v", m.name, err)
	}
	return s
}

// waitLayer waits until m's slot shows frames of the publisher's layer.
func waitLayer(ctx context.Context, t *testing.T, m *member, s *vertotest.Stream, layer int, why string) time.Duration {
	t.Helper()
	return waitLayerIn(ctx, t, m, s, layer, layer, why)
}

// waitLayerIn waits until m's slot shows frames of a layer from lo to hi.
func waitLayerIn(ctx context.Context, t *testing.T, m *member, s *vertotest.Stream, lo, hi int, why string) time.Duration {
	t.Helper()
	start := time.Now()
	err := vertotest.WaitFor(ctx, func() bool {
		src := s.CurrentSource()
		return src >= simMarker+uint32(lo) && src <= simMarker+uint32(hi)
	})
	if err != nil {
		st, _ := m.call.Stats(context.Background())
		t.Fatalf("%s: %s: the slot shows %d, want layer %d to %d; stats %+v", m.name, why, s.CurrentSource(), lo, hi, st)
	}
	return time.Since(start)
}

// TestSimulcastBySlotSizeAndBandwidth: a pion member publishes three
// simulcast layers (q, h, f). A viewer declaring a small slot receives q,
// one declaring a large slot receives f. When the second viewer's
// downlink is throttled below f, it moves down a layer within a few
// seconds, and back to f after the limit lifts; its slot stays one
// stream (a key frame at every switch, sequence numbers and timestamps
// continuous) and never freezes.
func TestSimulcastBySlotSizeAndBandwidth(t *testing.T) {
	if testing.Short() {
		t.Skip("real pion peers; skipped with -short")
	}
	a := startTestApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()

	joinSimulcastPublisher(ctx, t, a)

	small := viewer(ctx, t, a, "small", nil)
	throttle := vertotest.NewThrottle()
	large := viewer(ctx, t, a, "large", throttle)
	if err := small.call.SetSlotSize(ctx, 0, 320, 180); err != nil {
		t.Fatal(err)
	}
	if err := large.call.SetSlotSize(ctx, 0, 1280, 720); err != nil {
		t.Fatal(err)
	}
	smallS, largeS := slotStream(ctx, t, small), slotStream(ctx, t, large)
	waitLayer(ctx, t, small, smallS, 0, "small slot")
	waitLayer(ctx, t, large, largeS, 2, "large slot")
	smallFrom := len(smallS.Packets())
	// The estimate climbs from its start value; let it settle on f.
	waitSteady(ctx, t, large, 2, 2*time.Second)

	// Well below what f needs (about 1.3 Mbit/s, less when this machine
	// is too busy for the publisher to keep 30 frames a second): the loss
	// shows within a few hundred milliseconds, confd measures what the
	// link carried and the slot steps down at the next key frame (about
	// a second). Stepping up waits UpHold (4 s) and a probe or two (5 to
	// 16 s). The deadlines bound a failure with room for a machine too
	// busy to keep time, they measure nothing; the times taken are logged.
	throttle.SetRate(350_000)
	down := waitLayerIn(within(ctx, t, 10*time.Second), t, large, largeS, 0, 1, "throttled to 350 kbit/s")
	dropped := throttle.Dropped()
	t.Logf("stepped down to %d %v after the throttle (%d packets dropped)", largeS.CurrentSource(), down, dropped)
	if dropped == 0 {
		t.Errorf("the slot stepped down before the throttle dropped anything")
	}
	throttle.SetRate(0)
	up := waitLayer(within(ctx, t, 60*time.Second), t, large, largeS, 2, "limit lifted")
	t.Logf("back to f %v after the limit lifted", up)

	for _, m := range []*member{small, large} {
		s := slotStream(ctx, t, m)
		lost, err := s.Check()
		if err != nil {
			t.Errorf("%s: %v", m.name, err)
		}
		t.Logf("%s: %d packets, %d lost, sources %v, longest freeze %v, gaps at switches %v",
			m.name, len(s.Packets()), lost, s.Sources(), s.LongestFreeze(), s.SwitchGaps())
		// The slot forwards the old layer until the new one's key frame:
		// a switch costs a frame or two, a few more where the throttle
		// dropped the frames around it.
		for _, g := range s.SwitchGaps() {
			if g > 500*time.Millisecond {
				t.Errorf("%s: %v without a picture at a layer switch", m.name, g)
			}
		}
	}
	if got := fmt.Sprint(smallS.SourcesSince(smallFrom)); got != fmt.Sprint([]uint32{simMarker}) {
		t.Errorf("small slot sources %s once it showed q, want only q", got)
	}
}

// within is ctx bounded to d from now.
func within(ctx context.Context, t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	return ctx
}

// waitSteady waits until m's slot 0 has forwarded layer, and targeted it,
// for d without a break.
func waitSteady(ctx context.Context, t *testing.T, m *member, layer int, d time.Duration) {
	t.Helper()
	var since, asked time.Time
	err := vertotest.WaitFor(ctx, func() bool {
		// One confd.stats a tenth of a second: WaitFor looks every 10 ms,
		// and a request each time would run into the session's message
		// rate limit (50 a second), whose refusals read as "not steady".
		if time.Since(asked) < 100*time.Millisecond {
			return false
		}
		asked = time.Now()
		st, err := m.call.Stats(ctx)
		if err != nil || len(st.Slots) == 0 || st.Slots[0].Layer != layer || st.Slots[0].TargetLayer != layer {
			since = time.Time{}
			return false
		}
		if since.IsZero() {
			since = time.Now()
		}
		return time.Since(since) >= d
	})
	if err != nil {
		t.Fatalf("%s never stayed on layer %d for %v", m.name, layer, d)
	}
}

// TestSimulcastPausesUnwatchedLayers: with only a small slot watching, the
// publisher is told (confd.layers) to send q alone and stops h and f;
// when the viewer enlarges the slot, f is asked for again and the slot
// shows it.
func TestSimulcastPausesUnwatchedLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("real pion peers; skipped with -short")
	}
	a := startTestApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pubCall := joinSimulcastPublisher(ctx, t, a)
	v := viewer(ctx, t, a, "viewer", nil)
	if err := v.call.SetSlotSize(ctx, 0, 320, 180); err != nil {
		t.Fatal(err)
	}
	s := slotStream(ctx, t, v)
	waitLayer(ctx, t, v, s, 0, "small slot")
	lastEvent := func() string {
		ev := pubCall.LayersEvents()
		if len(ev) == 0 {
			return ""
		}
		return fmt.Sprint(ev[len(ev)-1])
	}
	if err := vertotest.WaitFor(ctx, func() bool { return lastEvent() == "[q]" }); err != nil {
		t.Fatalf("the publisher was never told to send q alone: %v", pubCall.LayersEvents())
	}
	if err := v.call.SetSlotSize(ctx, 0, 1280, 720); err != nil {
		t.Fatal(err)
	}
	if err := vertotest.WaitFor(ctx, func() bool { return lastEvent() == "[q f]" }); err != nil {
		t.Fatalf("f was not asked for again: %v", pubCall.LayersEvents())
	}
	waitLayer(ctx, t, v, s, 2, "enlarged slot")
	if _, err := s.Check(); err != nil {
		t.Error(err)
	}
	t.Logf("confd.layers events %v, slot sources %v", pubCall.LayersEvents(), s.Sources())
}

// joinSimulcastPublisher puts a pion member in 3500 that publishes the
// three synthetic layers q, h and f.
func joinSimulcastPublisher(ctx context.Context, t *testing.T, a *app) *vertotest.Call {
	t.Helper()
	c, call, err := vertotest.Join(ctx, a.vertoURL(), "pub@localhost", "guest",
		vertotest.CallOptions{Dest: "3500", Name: "pub", Slots: 1, Publish: true, Simulcast: true, SSRC: simMarker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	t.Cleanup(call.Close)
	return call
}
