package dialin

import (
	"net/netip"
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

// TestPINLockout: the third failure locks the caller ID and, off a trunk,
// the source out for PINLockout; a success clears the count.
func TestPINLockout(t *testing.T) {
	cfg := &Config{}
	cfg.defaults()
	g := newGuard(cfg)
	now := time.Unix(1_800_000_000, 0)
	phone := caller{src: netip.MustParseAddr("192.0.2.1")}
	keys := pinKeys(phone, "5551234")
	g.pinFailed(keys, now)
	g.pinFailed(keys, now)
	g.pinPassed(keys)
	g.pinFailed(keys, now)
	g.pinFailed(keys, now)
	if g.lockedOut(keys, now) {
		t.Fatal("locked out after two failures since a success")
	}
	g.pinFailed(keys, now)
	if !g.lockedOut(pinKeys(phone, "other"), now) || !g.lockedOut(pinKeys(caller{src: netip.MustParseAddr("192.0.2.9")}, "5551234"), now) {
		t.Error("neither the source nor the caller ID is locked out")
	}
	if g.lockedOut(keys, now.Add(cfg.PINLockout)) {
		t.Error("still locked out after PINLockout")
	}
	// Through a trunk only the caller ID counts: the trunk carries everyone.
	if ks := pinKeys(caller{src: phone.src, trunk: true}, "5550000"); len(ks) != 1 {
		t.Errorf("trunk keys %v", ks)
	}
}

func TestMaskNumber(t *testing.T) {
	for in, want := range map[string]string{"+15551234567": "•••• 4567", "123": "••••", "": "••••"} {
		if got := maskNumber(in); got != want {
			t.Errorf("maskNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
