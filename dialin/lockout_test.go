package dialin

import (
	"net/netip"
	"strconv"
	"testing"
	"time"
)

func lockoutGuard() (*guard, time.Time) {
	cfg := &Config{}
	cfg.defaults()
	return newGuard(cfg), time.Unix(1_800_000_000, 0)
}

// TestPINLockout: off a trunk, the third failure locks the caller ID and
// the source out for PINLockout, whatever From the source then writes; a
// success clears the count.
func TestPINLockout(t *testing.T) {
	g, now := lockoutGuard()
	phone := caller{src: netip.MustParseAddr("192.0.2.1")}
	keys := g.pinKeys(phone, "5551234", "3500")
	g.pinFailed(keys, now)
	g.pinFailed(keys, now)
	g.pinPassed(keys)
	g.pinFailed(keys, now)
	g.pinFailed(keys, now)
	if g.lockedOut(keys, now) {
		t.Fatal("locked out after two failures since a success")
	}
	g.pinFailed(keys, now)
	if !g.lockedOut(g.pinKeys(phone, "other", "3500"), now) || !g.lockedOut(g.pinKeys(phone, "", "4000"), now) {
		t.Error("the source is not locked out under another From")
	}
	if !g.lockedOut(g.pinKeys(caller{src: netip.MustParseAddr("192.0.2.9")}, "5551234", "3500"), now) {
		t.Error("the caller ID is not locked out from another source")
	}
	if g.lockedOut(keys, now.Add(g.cfg.PINLockout)) {
		t.Error("still locked out after PINLockout")
	}
}

// TestPINLockoutWindow: failures further apart than PINLockout do not add
// up: three typos in a month lock nobody out.
func TestPINLockoutWindow(t *testing.T) {
	g, now := lockoutGuard()
	keys := g.pinKeys(caller{src: netip.MustParseAddr("192.0.2.1")}, "5551234", "3500")
	for i := range 3 {
		g.pinFailed(keys, now.Add(time.Duration(i)*g.cfg.PINLockout))
	}
	if g.lockedOut(keys, now.Add(2*g.cfg.PINLockout)) {
		t.Error("locked out by failures a lockout apart")
	}
}

// TestPINLockoutTrunk: through a trunk, a caller who changes its From at
// every call, or sends none, is locked out of the room once the room's
// budget through that trunk is spent; a success by someone who knows the
// PIN does not refill it. Other rooms, other trunk addresses and callers
// who never failed elsewhere are not affected.
func TestPINLockoutTrunk(t *testing.T) {
	g, now := lockoutGuard()
	trunk := caller{src: netip.MustParseAddr("198.51.100.7"), trunk: true}
	for i := range g.cfg.PINTrunkAttempts - 1 {
		from := ""
		if i%2 == 0 {
			from = "555000" + strconv.Itoa(i)
		}
		keys := g.pinKeys(trunk, from, "3500")
		if g.lockedOut(keys, now) {
			t.Fatalf("locked out after %d failures", i)
		}
		g.pinFailed(keys, now)
		g.pinPassed(g.pinKeys(trunk, "5559999", "3500"))
	}
	if g.lockedOut(g.pinKeys(trunk, "", "3500"), now) {
		t.Fatal("locked out before the trunk's budget is spent")
	}
	g.pinFailed(g.pinKeys(trunk, "", "3500"), now)
	if !g.lockedOut(g.pinKeys(trunk, "", "3500"), now) || !g.lockedOut(g.pinKeys(trunk, "5558888", "3500"), now) {
		t.Error("the room is not locked out through the trunk, with a From or without")
	}
	other := caller{src: netip.MustParseAddr("198.51.100.8"), trunk: true}
	if g.lockedOut(g.pinKeys(trunk, "5558888", "4000"), now) || g.lockedOut(g.pinKeys(other, "5558888", "3500"), now) {
		t.Error("another room or another trunk address is locked out too")
	}
	if g.lockedOut(g.pinKeys(trunk, "", "3500"), now.Add(g.cfg.PINLockout)) {
		t.Error("still locked out after PINLockout")
	}
}

// TestPINFailuresBounded: caller IDs are the caller's to choose; failures
// that no longer matter are swept as the table grows, so a caller who
// fails under a new From every time leaves a bounded table.
func TestPINFailuresBounded(t *testing.T) {
	g, now := lockoutGuard()
	trunk := caller{src: netip.MustParseAddr("198.51.100.7"), trunk: true}
	for i := range 10 * maxPINKeys {
		at := now.Add(time.Duration(i) * g.cfg.PINLockout / 100)
		g.pinFailed(g.pinKeys(trunk, "id"+strconv.Itoa(i), "3500"), at)
	}
	if n := len(g.failures); n > maxPINKeys+1 {
		t.Errorf("%d entries kept, want at most %d", n, maxPINKeys+1)
	}
}
