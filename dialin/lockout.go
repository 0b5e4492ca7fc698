package dialin

import "time"

// The PIN lockout bounds how many PINs a caller can try: PINAttempts wrong
// ones within PINLockout lock its keys out of PIN entry for PINLockout.
//
// Off a trunk the source address is the caller: it is locked out whatever
// From it writes. A trunk carries every caller of a carrier from one
// address, so its address cannot be locked out for one caller's typos;
// there the caller ID (the From user) is the caller, but the From is
// whatever the calling side sends, and one caller can change it at every
// call, or send none. So a trunk also has a budget per room:
// PINTrunkAttempts wrong PINs into one room through one trunk address
// within PINLockout lock that room's PIN entry through that address for
// PINLockout. The budget is larger than one caller's, so that callers'
// mistakes do not close the room, and small enough that guessing a
// four-digit PIN through a trunk takes days rather than minutes.

// pinKey is one thing a wrong PIN counts against, and how many it takes.
type pinKey struct {
	name   string
	limit  int
	shared bool // counts every caller's failures: a success does not clear it
}

// pinKeys are the lockout keys of a caller into the room numbered room.
func (g *guard) pinKeys(c caller, callerID, room string) []pinKey {
	var keys []pinKey
	if callerID != "" {
		keys = append(keys, pinKey{name: "id:" + callerID, limit: g.cfg.PINAttempts})
	}
	if !c.trunk {
		return append(keys, pinKey{name: "ip:" + c.src.String(), limit: g.cfg.PINAttempts})
	}
	return append(keys, pinKey{name: "trunk:" + c.src.String() + " room:" + room, limit: g.cfg.PINTrunkAttempts, shared: true})
}

// pinFailures are the failures counted against one key.
type pinFailures struct {
	count int
	since time.Time // the first failure counted
	until time.Time // locked out until then; zero: not locked out
}

// stale reports whether f no longer matters: no lockout in force, and its
// first failure further back than the window.
func (f *pinFailures) stale(now time.Time, window time.Duration) bool {
	return !now.Before(f.until) && now.Sub(f.since) >= window
}

// lockedOut reports whether any of keys is locked out of PIN entry.
func (g *guard) lockedOut(keys []pinKey, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		if f := g.failures[k.name]; f != nil && now.Before(f.until) {
			return true
		}
	}
	return false
}

// pinFailed counts a wrong PIN against keys: the failure that reaches a
// key's limit within PINLockout locks it out for PINLockout.
func (g *guard) pinFailed(keys []pinKey, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		f := g.failures[k.name]
		if f == nil || f.stale(now, g.cfg.PINLockout) {
			g.prunePINLocked(now)
			f = &pinFailures{since: now}
			g.failures[k.name] = f
		}
		f.count++
		if f.count >= k.limit && !now.Before(f.until) {
			f.until = now.Add(g.cfg.PINLockout)
			f.count, f.since = 0, f.until // a new count starts when the lockout ends
		}
	}
}

// pinPassed clears the caller's own failures; a trunk's room budget keeps
// counting, or a caller who knows the PIN would refill it for a guesser.
func (g *guard) pinPassed(keys []pinKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range keys {
		if !k.shared {
			delete(g.failures, k.name)
		}
	}
}

// maxPINKeys is when the failure table is first swept of stale entries:
// caller IDs are the caller's to choose, so the table must not keep them.
// After a sweep the next comes when the table has doubled, so a sweep costs
// each entry added a constant. What stays is what failed within the last
// PINLockout, which the INVITE rate (off trunks) and the trunks' room
// budgets bound.
const maxPINKeys = 4096

func (g *guard) prunePINLocked(now time.Time) {
	if len(g.failures) < max(g.pinSweepAt, maxPINKeys) {
		return
	}
	for k, f := range g.failures {
		if f.stale(now, g.cfg.PINLockout) {
			delete(g.failures, k)
		}
	}
	g.pinSweepAt = 2 * len(g.failures)
}
