package dialin

import (
	"testing"
	"time"
)

func TestNonce(t *testing.T) {
	g := newGuard(&Config{})
	now := time.Unix(1_800_000_000, 0)
	n := g.nonce(now)
	if !g.nonceValid(n, now.Add(time.Minute)) {
		t.Error("fresh nonce refused")
	}
	if g.nonceValid(n, now.Add(nonceLifetime+time.Second)) {
		t.Error("stale nonce accepted")
	}
	forged := []byte(n)
	forged[len(forged)-1] ^= 1
	if g.nonceValid(string(forged), now) || newGuard(&Config{}).nonceValid(n, now) {
		t.Error("a nonce this server did not make was accepted")
	}
}

func TestMaskNumber(t *testing.T) {
	for in, want := range map[string]string{"+15551234567": "•••• 4567", "123": "••••", "": "••••"} {
		if got := maskNumber(in); got != want {
			t.Errorf("maskNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
