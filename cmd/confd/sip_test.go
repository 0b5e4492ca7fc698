package main

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/confd/confd/dialin"
	"github.com/confd/confd/dialin/dialintest"
	"github.com/confd/confd/room"
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
	judgeTone(t, who, hz, dialintest.ToneLevelBlocks(pcm, hz), present)
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
			checkPhoneRow(t, a)
			checkPhoneMetrics(t, a)
		})
	}
}

// checkPhoneRow: the phone is in the participant list like a browser, as a
// phone, with its caller ID masked.
func checkPhoneRow(t *testing.T, a *app) {
	t.Helper()
	r, _ := a.rooms.Lookup("3500")
	found := false
	r.Snapshot(func(rows []room.Row) {
		for _, row := range rows {
			if row.Kind == room.KindPhone {
				found = true
				if !strings.HasPrefix(row.Number, "••••") {
					t.Errorf("the phone's number %q is not masked", row.Number)
				}
			}
		}
	})
	if !found {
		t.Error("no phone row in the participant list")
	}
}

// checkPhoneMetrics: /metrics counts the phone among the room's members
// and the SIP calls, with the mixer running.
func checkPhoneMetrics(t *testing.T, a *app) {
	t.Helper()
	got, err := scrapeMetrics(a)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]float64{
		`confd_room_members{room="3500",kind="phone"}`:   1,
		`confd_room_members{room="3500",kind="browser"}`: 1,
		`confd_sip_calls`:       1,
		`confd_sip_calls_total`: 1,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if got[`confd_mixer_encodes_total{room="3500"}`] == 0 {
		t.Error("the mixer's encodes are not counted")
	}
}

// TestSIPConfig: the sip: section and the SIP listeners. A file that names
// its own listen: addresses opens no SIP port it did not ask for; codecs
// and trunks are checked when the file is read.
func TestSIPConfig(t *testing.T) {
	c, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.SIPUDP != ":5060" || c.Listen.SIPTCP != ":5060" || !c.sipEnabled() {
		t.Errorf("default listen = %+v, want SIP on :5060", c.Listen)
	}
	dc, err := c.sipConfig()
	if err != nil || dc.TLS != "" || len(dc.Trunks) != 2 || dc.Trunks[0].String() != "127.0.0.0/8" {
		t.Errorf("default dial-in config %+v, %v: want loopback trunks and no TLS without a certificate", dc, err)
	}

	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, `
listen: {http: "127.0.0.1:0"}
users: [{login: "1000", password: "x", role: moderator}]
webrtc: {public_ips: [203.0.113.7]}
sip:
  codecs: "PCMA, PCMU"
  trunks: [192.0.2.0/24, 198.51.100.7]
  dids: {"+15550001000": "3500"}
  pin_lockout: 1m
  pin_trunk_attempts: 20
  max_headers: 60
  tcp_read_timeout: 15s
  tcp_idle_timeout: 1m
  tls_handshake_timeout: 5s
  tcp_connections_per_address: 8
`)
	c, err = loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.sipEnabled() {
		t.Error("SIP listens although listen: names only http")
	}
	dc, _ = c.sipConfig()
	if len(dc.Codecs) != 2 || dc.Codecs[0].String() != "PCMA" || dc.Trunks[1].String() != "198.51.100.7/32" ||
		dc.DIDs["+15550001000"] != "3500" || dc.PublicIPs[0].String() != "203.0.113.7" || len(dc.Users) != 1 {
		t.Errorf("dial-in config %+v", dc)
	}
	if l := dc.Limits; dc.PINTrunkAttempts != 20 || l.MaxHeaders != 60 || l.ReadTimeout != 15*time.Second || l.IdleTimeout != time.Minute ||
		l.TLSHandshakeTimeout != 5*time.Second || l.MaxConnsPerAddress != 8 || l.MaxMessageBytes != 0 {
		t.Errorf("limits %+v, pin_trunk_attempts %d", l, dc.PINTrunkAttempts)
	}
	for _, bad := range []string{"sip: {codecs: G729}", "sip: {trunks: [nowhere]}", "sip: {rtp_port_min: 2000, rtp_port_max: 1000}",
		"sip: {tcp_read_timeout: -1s}", "sip: {max_message_bytes: 65536}", "sip: {tcp_connections: -1}",
		"sip: {max_message_bytes: 4096, max_header_bytes: 8192}", "sip: {tcp_read_timout: 1s}"} {
		writeFile(t, path, bad+"\n")
		if _, err := loadConfig(path); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestREADMESIPConfig: the README's listen and sip example loads, and the
// limits it shows are the defaults the dial-in takes when none are given.
func TestREADMESIPConfig(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Phones (SIP)")
	_, block, ok2 := strings.Cut(section, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("no yaml example in the README's Phones (SIP) section")
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	writeFile(t, path, block)
	c, err := loadConfig(path)
	if err != nil {
		t.Fatalf("the README's example: %v", err)
	}
	shown := c.SIP.SIPLimits.dialin()
	def := dialin.DefaultLimits()
	if shown != def || c.SIP.PINTrunkAttempts != 10 {
		t.Errorf("the README shows limits %+v, the defaults are %+v", shown, def)
	}
}
