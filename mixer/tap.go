package mixer

import "sync/atomic"

// Tap sees a mixer's audio for a recorder: each member's input frame,
// the room's mix and who talks, tick by tick. Its methods are called on
// the mixer goroutine, in tick order; payloads are valid only during the
// call, and no method may block or wait for anything (a recorder copies
// into a bounded queue and drops when it is full). now is the tick's time
// on the Now clock; ticks a late mixer skipped never reach the tap.
type Tap interface {
	// Input is member id's frame of the tick as the member sent it in
	// codec: the payload the jitter buffer played (status FramePlay), or
	// none (FrameMissing: lost and concealed in the mix; FrameSilent).
	// mixed is false while the member's voice is kept out of the mix
	// (muted, on hold, in the lobby); a recorder keeps silence then.
	// Inputs that are not members (join and leave tones) have ids <= 0.
	Input(now int64, id int, codec Codec, status FrameStatus, payload []byte, mixed bool)
	// Mix is the tick's mix as a listener who does not speak hears it,
	// encoded in Opus.
	Mix(now int64, payload []byte)
	// Talking reports member id starting or stopping to talk.
	Talking(now int64, id int, talking bool)
}

// tapBox lets a Tap interface value sit behind an atomic pointer.
type tapBox struct{ t Tap }

// SetTap makes t the mixer's tap from the next tick on; nil removes it.
// An echo test's mixer has no mix and reports only inputs.
func (m *Mixer) SetTap(t Tap) {
	if t == nil {
		m.tap.Store(nil)
		return
	}
	m.tap.Store(&tapBox{t: t})
	m.unpark() // a recorder takes every tick
}

// loadTap is the tap of this tick, nil for none.
func loadTap(p *atomic.Pointer[tapBox]) Tap {
	if b := p.Load(); b != nil {
		return b.t
	}
	return nil
}
