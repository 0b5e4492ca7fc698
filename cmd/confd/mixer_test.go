package main

import (
	"context"
	"testing"
	"time"

	"github.com/confd/confd/signalling/vertotest"
)

// TestEveryoneHearsEveryoneElse: A sends a 440 Hz tone, B 880 Hz, C is
// silent, all through real pion peers and the Verto endpoint. C hears both
// tones, A hears 880 and not its own 440, B hears 440 and not its own 880.
// Muting A in the room removes 440 from what B and C hear.
func TestEveryoneHearsEveryoneElse(t *testing.T) {
	a := startTestApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	join := func(name string, hz float64) *vertotest.Call {
		c, call, err := vertotest.Join(ctx, a.vertoURL(), name, "guest", vertotest.CallOptions{Dest: "3500", Name: name, ToneHz: hz})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { call.Close(); _ = c.Close() })
		return call
	}
	alice, bob, carol := join("alice", 440), join("bob", 880), join("carol", 0)

	listen(ctx, t, alice, bob, carol)
	hears(t, "carol", carol, 440, true)
	hears(t, "carol", carol, 880, true)
	hears(t, "alice", alice, 880, true)
	hears(t, "alice", alice, 440, false)
	hears(t, "bob", bob, 440, true)
	hears(t, "bob", bob, 880, false)

	r, err := a.rooms.Lookup("3500")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Mute(memberIDOf(t, a, "alice"), true); err != nil {
		t.Fatal(err)
	}
	// Audio mixed before the mute is still on its way (jitter buffers on
	// both sides): wait until it has drained, then listen afresh.
	waitGone(ctx, t, 440, bob, carol)
	listen(ctx, t, bob, carol)
	hears(t, "bob after muting alice", bob, 440, false)
	hears(t, "carol after muting alice", carol, 440, false)
	hears(t, "carol after muting alice", carol, 880, true)
}

// waitGone waits until the last 200 ms each call heard lacks the tone hz.
func waitGone(ctx context.Context, t *testing.T, hz float64, calls ...*vertotest.Call) {
	t.Helper()
	const window = 9600 // 200 ms at 48 kHz
	for _, c := range calls {
		c.ResetHeard()
		err := vertotest.WaitFor(ctx, func() bool {
			pcm, _ := c.Heard()
			return len(pcm) >= window && vertotest.ToneLevel(pcm[len(pcm)-window:], hz) < absentDB
		})
		if err != nil {
			t.Fatalf("%v kept hearing %v Hz", c, hz)
		}
	}
}

// listen forgets what the calls heard so far and waits until each has
// decoded a whole second more.
func listen(ctx context.Context, t *testing.T, calls ...*vertotest.Call) {
	t.Helper()
	for _, c := range calls {
		c.ResetHeard()
	}
	for _, c := range calls {
		err := vertotest.WaitFor(ctx, func() bool {
			pcm, _ := c.Heard()
			return len(pcm) >= 48000
		})
		if err != nil {
			t.Fatalf("%v never heard a second of audio", c)
		}
	}
}

// A tone at -12 dBFS comes out around -12 dB on a quiet machine and a few
// dB lower on a loaded one, where late packets are concealed; what is
// absent stays below the codec's noise, under -55 dB in every run seen.
// The 10 dB between the two bounds keeps the verdict clear either way.
const (
	presentDB = -35.0
	absentDB  = -45.0
)

func hears(t *testing.T, who string, c *vertotest.Call, hz float64, present bool) {
	t.Helper()
	pcm, _ := c.Heard()
	judgeTone(t, who, hz, vertotest.ToneLevelBlocks(pcm, hz), present)
}

// judgeTone checks who heard hz at level (dB) with it present or absent.
func judgeTone(t *testing.T, who string, hz, level float64, present bool) {
	t.Helper()
	t.Logf("%s hears %v Hz at %.1f dB", who, hz, level)
	switch {
	case present && level < presentDB:
		t.Errorf("%s: %v Hz at %.1f dB, want it heard (> %.0f dB)", who, hz, level, presentDB)
	case !present && level > absentDB:
		t.Errorf("%s: %v Hz at %.1f dB, want it absent (< %.0f dB)", who, hz, level, absentDB)
	}
}

func memberIDOf(t *testing.T, a *app, name string) int {
	t.Helper()
	r, err := a.rooms.Lookup("3500")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range r.Members() {
		if m.Info.Name == name {
			return m.ID
		}
	}
	t.Fatalf("no member %q", name)
	return 0
}
