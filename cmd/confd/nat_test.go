package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"

	"github.com/confd/confd/signalling/vertotest"
)

// answerTo sends an offer for one audio and one video section to 3500 and
// returns confd's answer, never applying it: the answer names addresses
// the test must not send to.
func answerTo(ctx context.Context, t *testing.T, a *app) string {
	t.Helper()
	c, err := vertotest.Dial(ctx, a.vertoURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "nat@localhost", "guest"); err != nil {
		t.Fatal(err)
	}
	pc, err := vertotest.NewPeerConnection()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k); err != nil {
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
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("gathering timed out")
	}
	id := uuid.NewString()
	r, err := c.Request(ctx, "verto.invite", map[string]any{"sdp": pc.LocalDescription().SDP, "dialogParams": map[string]any{
		"callID": id, "destination_number": "3500", "caller_id_name": "nat", "useVideo": true,
	}})
	if err != nil || r.Error != nil {
		t.Fatalf("invite: %v %v", err, r.Error)
	}
	for {
		select {
		case req := <-c.Requests():
			var p struct {
				CallID string `json:"callID"`
				SDP    string `json:"sdp"`
			}
			if (req.Method == "verto.answer" || req.Method == "verto.media") && json.Unmarshal(req.Params, &p) == nil && p.CallID == id && p.SDP != "" {
				return p.SDP
			}
		case <-ctx.Done():
			t.Fatal("no answer")
		}
	}
}

var candidateLine = regexp.MustCompile(`(?m)^a=candidate:\S+ \d+ (\S+) \d+ (\S+) (\d+) typ (\S+)(?: raddr (\S+) rport \d+)?`)

// candidates are the answer's "protocol address typ [raddr]" lines.
func candidates(sdp string) []string {
	var out []string
	for _, m := range candidateLine.FindAllStringSubmatch(sdp, -1) {
		c := strings.ToLower(m[1]) + " " + m[2] + " " + m[4]
		if m[5] != "" {
			c += " raddr " + m[5]
		}
		out = append(out, c)
	}
	return out
}

func hasCandidate(cands []string, want string) bool {
	for _, c := range cands {
		if c == want {
			return true
		}
	}
	return false
}

// TestPublicIPsAsServerReflexive: with public_ips [203.0.113.7], confd's
// answer holds its host candidates and the public address as a
// server-reflexive one beside them; public_ips_mode replace announces the
// public address instead, as host. Only the SDP is looked at: nothing is
// ever sent to 203.0.113.7.
func TestPublicIPsAsServerReflexive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := startTestApp(t, func(c *Config) { c.WebRTC.PublicIPs = []string{"203.0.113.7"} })
	cands := candidates(answerTo(ctx, t, a))
	t.Logf("candidates: %q", cands)
	if !hasCandidate(cands, "udp 127.0.0.1 host") || !hasCandidate(cands, "udp 203.0.113.7 srflx raddr 127.0.0.1") {
		t.Errorf("candidates %q: want the host one and 203.0.113.7 as srflx", cands)
	}
	if hasCandidate(cands, "udp 203.0.113.7 host") {
		t.Errorf("candidates %q: the public address is also a host candidate", cands)
	}

	r := startTestApp(t, func(c *Config) {
		c.WebRTC.PublicIPs = []string{"203.0.113.7"}
		c.WebRTC.PublicIPsMode = "replace"
	})
	cands = candidates(answerTo(ctx, t, r))
	if !hasCandidate(cands, "udp 203.0.113.7 host") || hasCandidate(cands, "udp 127.0.0.1 host") {
		t.Errorf("replace: candidates %q, want 203.0.113.7 as the host candidate alone", cands)
	}
}
