package main

import (
	"context"
	"testing"
	"time"

	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/signalling/vertotest"
)

// beepDB is the level a beep reaches in a 100 ms window that holds most of
// it: the tones are sent around -14 dB.
const beepDB = -30.0

// beeped reports whether pcm (8 kHz) holds a beep at first followed by one
// at second, looking through 100 ms windows a frame apart.
func beeped(pcm []int16, first, second float64) bool {
	const window, step = 800, 160
	want := first
	for off := 0; off+window <= len(pcm); off += step {
		if dialintest.ToneLevel(pcm[off:off+window], want) < beepDB {
			continue
		}
		if want == second {
			return true
		}
		want = second
	}
	return false
}

// waitBeeps waits until the phone has heard first then second since its
// last ResetHeard (it keeps the last second, the beeps take 0.3 s).
func waitBeeps(ctx context.Context, t *testing.T, what string, p *dialintest.Phone, first, second float64) {
	t.Helper()
	err := vertotest.WaitFor(ctx, func() bool {
		pcm, _ := p.Heard()
		return beeped(pcm, first, second)
	})
	if err != nil {
		t.Fatalf("the phone never heard %s (%v Hz then %v Hz)", what, first, second)
	}
}

// waitQuiet waits for half a second of silence. A prompt replaces the mix
// while it plays, and the "alone" prompt ends on almost 0.4 s of silence:
// a tone starting then would be lost under it.
func waitQuiet(ctx context.Context, t *testing.T, what string, p *dialintest.Phone) {
	t.Helper()
	const half = 4000
	err := vertotest.WaitFor(ctx, func() bool {
		pcm, _ := p.Heard()
		return len(pcm) >= half && silent(pcm[len(pcm)-half:])
	})
	if err != nil {
		t.Fatalf("the phone never heard %s", what)
	}
}

// TestPhoneHearsBrowserJoinAndLeaveTones: a phone is alone in 3500 (it
// hears its prompt, no beep); a browser joins and the phone hears the
// rising join beeps (523 then 784 Hz); the browser hangs up and the phone
// hears the falling leave beeps. The room, not the SIP side, plays them,
// so a browser member is announced to the phone like another phone.
func TestPhoneHearsBrowserJoinAndLeaveTones(t *testing.T) {
	a := startSIPApp(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	phone, err := dialintest.Dial(ctx, a.sipAddr(t, "udp"), dialintest.Options{Dest: "3500"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(phone.Close)
	waitQuiet(ctx, t, "the end of the prompt", phone)
	phone.ResetHeard()

	c, web, err := vertotest.Join(ctx, a.vertoURL(), "web", "guest", vertotest.CallOptions{Dest: "3500", Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { web.Close(); _ = c.Close() })
	waitBeeps(ctx, t, "the join tone", phone, 523, 784)

	waitQuiet(ctx, t, "the end of the join tone", phone)
	phone.ResetHeard()
	if err := web.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitBeeps(ctx, t, "the leave tone", phone, 784, 523)
}
