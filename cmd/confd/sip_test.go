package main

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/signalling/vertotest"
)

// startSIPApp runs confd on loopback with SIP over UDP and TCP.
func startSIPApp(t *testing.T, mutate func(*Config)) *app {
	t.Helper()
	return startTestApp(t, func(c *Config) {
		c.Listen.SIPUDP, c.Listen.SIPTCP = "127.0.0.1:0", "127.0.0.1:0"
		c.SIP.RTPIP = "127.0.0.1"
		if mutate != nil {
			mutate(c)
		}
	})
}

func (a *app) sipAddr(t *testing.T, transport string) netip.AddrPort {
	t.Helper()
	ap, ok := a.sip.Addr(transport)
	if !ok {
		t.Fatalf("no SIP %s listener", transport)
	}
	return ap
}

// phoneHears checks the last second a phone heard at 8 kHz.
func phoneHears(t *testing.T, who string, p *dialintest.Phone, hz float64, present bool) {
	t.Helper()
	pcm, _ := p.Heard()
	level := dialintest.ToneLevel(pcm, hz)
	t.Logf("%s hears %v Hz at %.1f dB", who, hz, level)
	switch {
	case present && level < presentDB:
		t.Errorf("%s: %v Hz at %.1f dB, want it heard (> %.0f dB)", who, hz, level, presentDB)
	case !present && level > absentDB:
		t.Errorf("%s: %v Hz at %.1f dB, want it absent (< %.0f dB)", who, hz, level, absentDB)
	}
}

// waitPhone waits until cond holds for what p heard in the last 200 ms.
func waitPhone(ctx context.Context, t *testing.T, what string, p *dialintest.Phone, cond func(pcm []int16) bool) {
	t.Helper()
	err := vertotest.WaitFor(ctx, func() bool {
		pcm, _ := p.Heard()
		return len(pcm) >= 1600 && cond(pcm[len(pcm)-1600:])
	})
	if err != nil {
		t.Fatalf("phone never heard %s", what)
	}
}

// silent: G.711's zero decodes to 0 (µ-law) or ±8 (A-law has no zero).
func silent(pcm []int16) bool {
	for _, v := range pcm {
		if v > 8 || v < -8 {
			return false
		}
	}
	return true
}

// TestPhoneAndBrowserHearEachOther: a phone dials 3500 over SIP and sends
// a 440 Hz tone in G.711; a pion browser member in the same room sends
// 880 Hz in Opus. The browser hears 440 Hz and not its own 880; the phone
// receives 880 Hz in its codec (decoded and Goertzel-checked) and not its
// own 440. Both with PCMU and PCMA.
func TestPhoneAndBrowserHearEachOther(t *testing.T) {
	for _, codec := range []string{"PCMU", "PCMA"} {
		t.Run(codec, func(t *testing.T) {
			a := startSIPApp(t, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			phone, err := dialintest.Dial(ctx, a.sipAddr(t, "udp"), dialintest.Options{Dest: "3500", Codecs: []string{codec}, ToneHz: 440})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(phone.Close)
			if phone.Codec().String() != codec {
				t.Fatalf("answer chose %v, want %s:\n%s", phone.Codec(), codec, phone.Answer())
			}
			// Alone in the room, the phone is told so first.
			waitPhone(ctx, t, "the end of the prompt", phone, silent)

			c, web, err := vertotest.Join(ctx, a.vertoURL(), "web", "guest", vertotest.CallOptions{Dest: "3500", Name: "web", ToneHz: 880})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { web.Close(); _ = c.Close() })
			waitPhone(ctx, t, "880 Hz", phone, func(pcm []int16) bool { return dialintest.ToneLevel(pcm, 880) > presentDB })
			phone.ResetHeard()
			listen(ctx, t, web)
			if err := vertotest.WaitFor(ctx, func() bool { pcm, _ := phone.Heard(); return len(pcm) >= 8000 }); err != nil {
				t.Fatal("the phone never heard a second of audio")
			}
			hears(t, "browser", web, 440, true)
			hears(t, "browser", web, 880, false)
			phoneHears(t, "phone", phone, 880, true)
			phoneHears(t, "phone", phone, 440, false)
		})
	}
}
